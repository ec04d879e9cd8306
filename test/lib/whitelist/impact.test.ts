import type {V1Pod} from '@kubernetes/client-node'
import {expect} from 'chai'

import {DEFAULT_POLICY} from '../../../src/lib/policy/policy.js'
import {addToImpact, impactProblems, type ImpactReport, renderImpact} from '../../../src/lib/whitelist/impact.js'

const policy = {...DEFAULT_POLICY, allowedRegistries: ['docker.io', 'registry.k8s.io']}

function pod(
  namespace: string,
  name: string,
  images: {containers: string[]; init?: string[]},
  meta: {owner?: [string, string]; hash?: string; annotations?: Record<string, string>} = {},
): V1Pod {
  return {
    metadata: {
      namespace,
      name,
      labels: meta.hash ? {'pod-template-hash': meta.hash} : {},
      annotations: meta.annotations,
      ownerReferences: meta.owner
        ? [{apiVersion: 'apps/v1', kind: meta.owner[0], name: meta.owner[1], uid: 'u', controller: true}]
        : undefined,
    },
    spec: {
      containers: images.containers.map((image) => ({name: 'c', image})),
      initContainers: images.init?.map((image) => ({name: 'i', image})),
    },
  }
}

describe('whitelist impact (the pods a policy would refuse on their next update)', () => {
  it('reviews containers and init containers as the API server does, grouped by workload', () => {
    const report: ImpactReport = {pods: 0, refused: []}
    addToImpact(
      report,
      [
        pod(
          'shop',
          'web-5d8f-a',
          {containers: ['quay.io/acme/web:1.0']},
          {owner: ['ReplicaSet', 'web-5d8f'], hash: '5d8f'},
        ),
        pod(
          'shop',
          'web-5d8f-b',
          {containers: ['quay.io/acme/web:1.0']},
          {owner: ['ReplicaSet', 'web-5d8f'], hash: '5d8f'},
        ),
        pod('shop', 'ok', {containers: ['nginx:1.27']}),
        pod('shop', 'init', {containers: ['nginx:1.27'], init: ['busybox']}, {owner: ['Job', 'migrate']}),
        pod(
          'shop',
          'glass',
          {containers: ['quay.io/x:1']},
          {annotations: {'alpha.image-policy.k8s.io/break-glass': 'true'}},
        ),
        pod(
          'kube-system',
          'kube-apiserver-node',
          {containers: ['quay.io/mirror:1']},
          {annotations: {'kubernetes.io/config.mirror': 'abc'}},
        ),
        pod('kube-system', 'agent', {containers: ['quay.io/agent:1']}),
      ],
      policy,
    )
    expect(report.pods).to.equal(7)
    expect(report.refused.map((r) => [r.namespace, r.workload, r.pods])).to.deep.equal([
      ['shop', 'Deployment/web', 2],
      ['shop', 'Job/migrate', 1],
    ])
    expect(report.refused[1].reason).to.match(/image-tag-missing: busybox has no tag/)
    expect(renderImpact(report)[0]).to.equal(
      'impact: 3 of 7 running pods (2 workloads) would be refused on their next update or re-creation: shop 3',
    )
    expect(impactProblems(report)).to.deep.equal([])
  })

  it('refused workloads in kube-system are problems when the policy does not exempt it', () => {
    const report: ImpactReport = {pods: 0, refused: []}
    addToImpact(report, [pod('kube-system', 'agent', {containers: ['quay.io/agent:1']})], {
      ...policy,
      exemptNamespaces: [],
    })
    expect(impactProblems(report)).to.have.length(1)
    expect(impactProblems(report)[0]).to.match(
      /^kube-system\/Pod\/agent would be refused \(image policy \(kubectl-imgsec\) refused 1 image: image-registry-not-allowed/,
    )
    expect(renderImpact({pods: 4, refused: []})).to.deep.equal(['impact: none of the 4 running pods would be refused'])
  })
})

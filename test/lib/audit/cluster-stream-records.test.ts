import {expect} from 'chai'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import type {Finding} from '../../../src/lib/audit/audit.js'
import {streamClusterAudit} from '../../../src/lib/audit/cluster-stream.js'
import {CHECKS} from '../../../src/lib/audit/checks/index.js'
import {createApiReader} from '../../../src/lib/cluster/api-reader.js'
import {DEFAULT_POLICY} from '../../../src/lib/policy/policy.js'
import {FakeKubeApiServer} from '../../support/fake-kube-api.js'

const digest = (n: number) => `sha256:${n.toString(16).padStart(2, '0').repeat(32)}`

/** A pod of ReplicaSet `replicaSet` (of Deployment `deployment`), running `image` as `runningDigest`. */
function pod(name: string, replicaSet: string, image: string, runningDigest: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {name, namespace: 'default', ownerReferences: [{kind: 'ReplicaSet', name: replicaSet, controller: true}]},
    spec: {containers: [{name: 'main', image}]},
    status: {containerStatuses: [{name: 'main', image, imageID: `docker.io/library/nginx@${runningDigest}`}]},
  }
}

const replicaSet = (name: string, deployment: string) => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: {name, namespace: 'default', ownerReferences: [{kind: 'Deployment', name: deployment, controller: true}]},
})

async function mismatchFindings(seed: (api: FakeKubeApiServer) => void): Promise<Finding[]> {
  const api = await FakeKubeApiServer.start()
  try {
    seed(api)
    const kubeconfig = await api.writeKubeconfig(path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-csr-')), 'kc'))
    const findings: Finding[] = []
    await streamClusterAudit(
      createApiReader({kubeconfig})!,
      {},
      DEFAULT_POLICY,
      CHECKS,
      {add: (finding) => void findings.push(finding), flush: async () => {}},
      {exempted: 0},
    )
    return findings.filter((finding) => finding.check === 'image-tag-digest-mismatch')
  } finally {
    await api.stop()
  }
}

describe('streamClusterAudit: the container records of the cross-workload checks', () => {
  it('come in the order the pods were listed, across workloads (the digests of a mismatch too)', async () => {
    const findings = await mismatchFindings((api) => {
      api.seed({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'a', namespace: 'default'}})
      api.seed({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'b', namespace: 'default'}})
      api.seed(replicaSet('a-old', 'a'))
      api.seed(replicaSet('a-new', 'a'))
      api.seed(replicaSet('b-1', 'b'))
      // Listed by name: a's old pod, b's pod, a's new pod.
      api.seed(pod('p1', 'a-old', 'nginx:1.27', digest(1)))
      api.seed(pod('p2', 'b-1', 'nginx:1.27', digest(2)))
      api.seed(pod('p3', 'a-new', 'nginx:1.27', digest(3)))
    })
    expect(findings.map((finding) => finding.resource.name)).to.deep.equal(['a', 'b'])
    expect(findings[0].message).to.equal(
      `docker.io/library/nginx:1.27 runs as 3 different digests across pods: ${digest(1).slice(0, 19)}… (1 pod), ${digest(2).slice(0, 19)}… (1 pod), ${digest(3).slice(0, 19)}… (1 pod)`,
    )
  })

  it('one workload of many different containers: each record found again, and counted, past the ones scanned', async () => {
    const findings = await mismatchFindings((api) => {
      api.seed({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'many', namespace: 'default'}})
      api.seed(replicaSet('many-1', 'many'))
      // 40 pods, 20 digests of one tag, each digest in two pods.
      for (let i = 0; i < 40; i++)
        api.seed(pod(`p${String(i).padStart(2, '0')}`, 'many-1', 'nginx:1.27', digest(i % 20)))
    })
    expect(findings).to.have.length(1)
    const counts = [...findings[0].message.matchAll(/\((\d+) pods?\)/g)].map((match) => Number(match[1]))
    expect(counts).to.deep.equal(Array.from({length: 20}, () => 2))
    expect(findings[0].message).to.contain(`${digest(0).slice(0, 19)}… (2 pods), ${digest(1).slice(0, 19)}…`)
  })
})

import {expect} from 'chai'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import type {Finding} from '../../../src/lib/audit/audit.js'
import {streamClusterAudit} from '../../../src/lib/audit/cluster-stream.js'
import {CHECKS, type Check} from '../../../src/lib/audit/checks/index.js'
import {createApiReader} from '../../../src/lib/cluster/api-reader.js'
import {DEFAULT_POLICY} from '../../../src/lib/policy/policy.js'
import {FakeKubeApiServer} from '../../support/fake-kube-api.js'
import {usedAfterGc} from '../../support/heap.js'

const WORKLOADS = 3000
const digest = (i: number) => `sha256:${(i % 7).toString(16).repeat(64)}`

/** Deployment → ReplicaSet → 2 pods, each with two containers running by digest (as a real apiserver has them). */
function seedWorkload(api: FakeKubeApiServer, i: number): void {
  const namespace = `team-${i % 30}`
  const name = `svc-${i}`
  const uid = (n: string) => `${n}-0000-4000-8000-${String(i).padStart(12, '0')}`
  api.seed({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name, namespace, uid: uid('d'), annotations: {team: 'a'}},
  })
  const owner = (kind: string, ownerName: string, id: string) => [
    {apiVersion: 'apps/v1', kind, name: ownerName, uid: id, controller: true, blockOwnerDeletion: true},
  ]
  api.seed({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {name: `${name}-5d8f7c`, namespace, uid: uid('r'), ownerReferences: owner('Deployment', name, uid('d'))},
  })
  for (let p = 0; p < 2; p++) {
    const images = [`registry.example.com/team/app-${i % 40}:1.${i % 5}`, 'registry.example.com/mesh/proxy:1.20']
    api.seed({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${name}-5d8f7c-${p}`,
        namespace,
        ownerReferences: owner('ReplicaSet', `${name}-5d8f7c`, uid('r')),
      },
      spec: {containers: images.map((image, c) => ({name: `c${c}`, image}))},
      status: {
        containerStatuses: images.map((image, c) => ({
          name: `c${c}`,
          image,
          imageID: `${image.split(':')[0]}@${digest(i + c)}`,
        })),
      },
    })
  }
}

describe('streamClusterAudit memory: what is kept per workload (issue 13)', () => {
  let api: FakeKubeApiServer
  let reader: NonNullable<ReturnType<typeof createApiReader>>
  before(async () => {
    api = await FakeKubeApiServer.start()
    for (let i = 0; i < WORKLOADS; i++) seedWorkload(api, i)
    const kubeconfig = await api.writeKubeconfig(path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-csm-')), 'kc'))
    reader = createApiReader({kubeconfig})!
  })
  after(() => api.stop())

  it('the owners, workloads and running containers kept for the cross-workload checks stay under 1,750 bytes a workload', async () => {
    let kept = 0
    let instances = 0
    // Runs where the real cross-workload checks do, after the last pod: what is reachable then is what the audit kept.
    const measure: Check = {
      id: 'measure',
      kind: 'cross-workload',
      severity: 'info',
      title: '',
      description: '',
      helpUri: '',
      fix: '',
      run(containers) {
        instances = containers.length
        kept = usedAfterGc() - baseline
        return []
      },
    } as Check
    const findings: Finding[] = []
    // One namespace first: the code the audit runs is compiled then, and is not counted below.
    const sink = {
      add: (finding: Finding) => void (findings.length < 5 && findings.push(finding)),
      flush: async () => {},
    }
    await streamClusterAudit(reader, {namespace: 'team-0'}, DEFAULT_POLICY, CHECKS, sink, {exempted: 0})
    const baseline = usedAfterGc()
    const result = await streamClusterAudit(reader, {}, DEFAULT_POLICY, [...CHECKS, measure], sink, {exempted: 0})
    expect(result.workloads).to.equal(WORKLOADS)
    // Two containers a workload, each running one digest in both its pods: one record each.
    expect(instances).to.equal(2 * WORKLOADS)
    expect(findings.length).to.be.greaterThan(0)
    // A Deployment and a ReplicaSet (the owners), the workload record, two container records: about
    // 1,400 bytes. Whole ownerReferences, an object of annotations per controller and a long key per
    // container record made it 2,100.
    expect(kept / WORKLOADS, `${kept} bytes kept for ${WORKLOADS} workloads`).to.be.below(1750)
  })
})

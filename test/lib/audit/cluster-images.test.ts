import {expect} from 'chai'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import type {Finding} from '../../../src/lib/audit/audit.js'
import {collectClusterImages} from '../../../src/lib/audit/cluster-images.js'
import {streamClusterAudit} from '../../../src/lib/audit/cluster-stream.js'
import {CHECKS} from '../../../src/lib/audit/checks/index.js'
import {scanTargetOf} from '../../../src/lib/audit/checks/image-vulnerable.js'
import {createApiReader} from '../../../src/lib/cluster/api-reader.js'
import {DEFAULT_POLICY} from '../../../src/lib/policy/policy.js'
import {FakeKubeApiServer} from '../../support/fake-kube-api.js'
import {runningPod} from '../../support/fleet-kubeconfig.js'

const DIGEST_A = `sha256:${'a'.repeat(64)}`
const DIGEST_B = `sha256:${'b'.repeat(64)}`

describe('cluster audits that ask registries: the pods read twice, nothing per pod kept', () => {
  let api: FakeKubeApiServer
  let reader: NonNullable<ReturnType<typeof createApiReader>>
  before(async () => {
    api = await FakeKubeApiServer.start()
    // 1,200 pods (three pages), two images, one running as two digests; an env that must not be kept.
    for (let i = 0; i < 1200; i++) {
      const pod = runningPod(`web-${i}`, i % 2 ? 'nginx:1.25' : 'redis:7', i % 3 ? DIGEST_A : DIGEST_B)
      ;(pod.spec.containers[0] as Record<string, unknown>).env = [{name: 'BIG', value: 'x'.repeat(1000)}]
      api.seed(pod)
    }
    api.seed({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name: 'unpinned', namespace: 'default'},
      spec: {containers: [{name: 'main', image: 'quay.io/team/tool:2'}]},
    })
    const kubeconfig = await api.writeKubeconfig(path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-ci-')), 'kc'))
    reader = createApiReader({kubeconfig})!
  })
  after(() => api.stop())

  it('collectClusterImages: the distinct images and digests, with the credentials group, and no pod spec', async () => {
    const input = await collectClusterImages(reader, {}, DEFAULT_POLICY)
    expect(input.workloads).to.have.length(1)
    const [unit] = input.workloads
    expect(unit.targets.map((target) => target.image).sort()).to.deep.equal([
      'nginx:1.25',
      'quay.io/team/tool:2',
      'redis:7',
    ])
    expect(unit.targets.every((target) => Object.keys(target.container).sort().join() === 'image,name')).to.equal(true)
    expect(unit.workload.podSpec).to.deep.equal({})
    // Two images × two digests, and the one that runs by no known digest: five, not 1,201.
    expect(input.instances.map((i) => `${i.image} ${i.runningDigest ?? '-'}`).sort()).to.deep.equal([
      `nginx:1.25 ${DIGEST_A}`,
      `nginx:1.25 ${DIGEST_B}`,
      'quay.io/team/tool:2 -',
      `redis:7 ${DIGEST_A}`,
      `redis:7 ${DIGEST_B}`,
    ])
    expect(input.instances.every((instance) => instance.workload === unit.workload)).to.equal(true)
  })

  it('the streamed audit takes what the registries said: a verdict for every container, pinned or not', async () => {
    const input = await collectClusterImages(reader, {}, DEFAULT_POLICY)
    const vulnerable = 'quay.io/team/tool:2'
    const vulnerabilities = new Map(
      input.instances.map((instance) => [
        scanTargetOf(instance),
        instance.image === vulnerable ? {severity: 'high' as const, message: `${vulnerable}: 1 HIGH`} : undefined,
      ]),
    )
    const findings: Finding[] = []
    await streamClusterAudit(
      reader,
      {},
      DEFAULT_POLICY,
      CHECKS.filter((check) => check.id === 'image-vulnerable'),
      {add: (finding) => findings.push(finding), flush: async () => {}},
      {exempted: 0},
      {run: {vulnerabilities}},
    )
    // The unpinned pod runs by no known digest: without every instance kept, it would be missed.
    expect(findings.map((finding) => [finding.check, finding.resource.name, finding.image])).to.deep.equal([
      ['image-vulnerable', 'unpinned', vulnerable],
    ])
  })
})

// A fleet audit across the real kube-apiserver, a fake API server and a context nothing answers:
// one kubeconfig merged from two files (kubectl's KUBECONFIG rules), the report per cluster.
import {expect} from 'chai'
import path from 'node:path'

import type {ControlPlane} from '../control-plane/control-plane.js'
import {runCli} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {runningPod, writeFleetKubeconfig} from '../support/fleet-kubeconfig.js'
import {describeReal, freshNamespace, sharedControlPlane} from './support.js'

const DIGEST_A = `sha256:${'a'.repeat(64)}`
const DIGEST_B = `sha256:${'b'.repeat(64)}`

interface Report {
  findings: Array<{cluster: string; check: string; resource: {kind: string; namespace: string; name: string}}>
  summary: {
    total: number
    clusters: Array<{cluster: string; total?: number; workloads?: number; error?: string}>
  }
}

describeReal('audit images --contexts across the real kube-apiserver', function () {
  this.timeout(180_000)
  let plane: ControlPlane
  let fake: FakeKubeApiServer
  let ns: string
  let kubeconfig: string
  let real: string

  before(async () => {
    plane = await sharedControlPlane()
    ns = await freshNamespace(plane, 'fleet')
    const pod = runningPod('web-0', 'nginx:1.25', DIGEST_A)
    const created = await plane.kubectl(['create', '-n', ns, '-f', '-'], {
      input: JSON.stringify({...pod, metadata: {name: 'web-0'}, status: undefined}),
    })
    expect(created.code, created.stderr).to.equal(0)
    // No kubelet here: the pod's status (the digest it runs) is written as a kubelet would.
    const patched = await plane.kubectl([
      'patch',
      'pod',
      'web-0',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({status: pod.status}),
    ])
    expect(patched.code, patched.stderr).to.equal(0)
    fake = await FakeKubeApiServer.start()
    // The same tag, another digest, in a namespace of the same name.
    fake.seed({...runningPod('web-0', 'nginx:1.25', DIGEST_B), metadata: {name: 'web-0', namespace: ns}})
    fake.seed({...runningPod('batch-0', 'busybox:1.36', DIGEST_A), metadata: {name: 'batch-0', namespace: ns}})
    const fleet = writeFleetKubeconfig({fake: fake.url, down: 'http://127.0.0.1:1'})
    kubeconfig = [plane.kubeconfig, fleet].join(path.delimiter)
    real = (await plane.kubectl(['config', 'current-context'])).stdout.trim()
  })
  after(async () => {
    await fake?.stop()
  })

  it("reports each cluster's findings together, the drift between them, and the one that is down", async () => {
    const result = await runCli(
      ['audit', 'images', '--contexts', `${real},fake,down`, '-n', ns, '-o', 'json', '--fail-on', 'none'],
      {env: {KUBECONFIG: kubeconfig}},
    )
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(/^error: context "down": [^\n]*127\.0\.0\.1:1[^\n]*\n$/)
    const doc = JSON.parse(result.stdout) as Report
    const runs = doc.findings.map((f) => f.cluster).filter((cluster, i, all) => cluster !== all[i - 1])
    expect(runs).to.deep.equal([real, 'fake'])
    const onReal = doc.findings.filter((f) => f.cluster === real)
    expect(new Set(onReal.map((f) => `${f.resource.kind} ${f.resource.namespace}/${f.resource.name}`))).to.deep.equal(
      new Set([`Pod ${ns}/web-0`, 'Image /docker.io/library/nginx:1.25']),
    )
    const drift = doc.findings.filter((f) => f.check === 'image-tag-digest-drift')
    expect(drift.map((f) => f.cluster)).to.deep.equal([real, 'fake'])
    expect(doc.findings.some((f) => f.cluster === 'fake' && f.resource.name === 'batch-0')).to.equal(true)
    expect(doc.summary.clusters).to.deep.equal([
      {...doc.summary.clusters[0], cluster: real, total: onReal.length, workloads: 1},
      {...doc.summary.clusters[1], cluster: 'fake', total: doc.findings.length - onReal.length, workloads: 2},
      {cluster: 'down', error: result.stderr.trim().replace(/^error: /, '')},
    ])
    expect(doc.summary.total).to.equal(doc.findings.length)
  })

  it('the table: a section per cluster, each opened by its summary line', async () => {
    const result = await runCli(['audit', 'images', '--contexts', `fake,${real}`, '-n', ns, '--fail-on', 'none'], {
      env: {KUBECONFIG: kubeconfig},
    })
    expect(result.code, result.stderr).to.equal(0)
    const lines = result.stdout.split('\n')
    const sections = lines.filter((line) => line.startsWith('Cluster '))
    expect(sections.map((line) => line.split(':')[0])).to.deep.equal(['Cluster fake', `Cluster ${real}`])
    expect(sections[1]).to.match(/\(\d+ findings in 1 of 1 workload\)$/)
    const realAt = lines.indexOf(sections[1])
    expect(lines.indexOf('Pod ' + ns + '/batch-0')).to.be.lessThan(realAt)
    expect(lines.lastIndexOf(`Pod ${ns}/web-0`)).to.be.greaterThan(realAt)
  })
})

import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import type {AuditSummary, Finding} from '../../../src/lib/audit/audit.js'
import {fleetContexts, runFleetAudit} from '../../../src/lib/audit/audit-fleet.js'
import {imageTagDigestDrift} from '../../../src/lib/audit/checks/image-tag-digest-drift.js'
import {CHECK_IDS, CHECKS} from '../../../src/lib/audit/checks/index.js'
import {reportWriter} from '../../../src/lib/audit/report-stream.js'
import {UserError} from '../../../src/lib/errors.js'
import {FakeKubeApiServer} from '../../support/fake-kube-api.js'
import {runningPod, writeFleetKubeconfig as fleetKubeconfig} from '../../support/fleet-kubeconfig.js'

const DIGEST_A = `sha256:${'a'.repeat(64)}`
const DIGEST_B = `sha256:${'b'.repeat(64)}`

// Every count of a cluster's summary (whatever severities there are), without its lists.
const counts = ({auditedByShape: _shapes, skipped: _skipped, clusters: _clusters, ...rest}: AuditSummary) => rest

describe('fleet audits (lib)', () => {
  const servers: FakeKubeApiServer[] = []
  let kubeconfig: string
  before(async () => {
    for (let i = 0; i < 2; i++) servers.push(await FakeKubeApiServer.start())
    servers[0].seed(runningPod('web-0', 'nginx:1.25', DIGEST_A))
    servers[1].seed(runningPod('web-0', 'nginx:1.25', DIGEST_B))
    servers[1].seed(runningPod('pinned', `nginx@${DIGEST_A}`, DIGEST_A))
    kubeconfig = fleetKubeconfig({
      prod: servers[0].url,
      staging: servers[1].url,
      down: 'http://127.0.0.1:1',
    })
  })
  after(async () => {
    for (const server of servers) await server.stop()
  })

  it('fleetContexts: every context of the kubeconfig, or the named ones once each', () => {
    expect(fleetContexts(kubeconfig, undefined)).to.deep.equal(['prod', 'staging', 'down'])
    expect(fleetContexts(kubeconfig, ['staging', 'prod', 'staging'])).to.deep.equal(['staging', 'prod'])
  })

  it('fleetContexts refuses an unknown context with a suggestion, and an empty list or kubeconfig', () => {
    expect(() => fleetContexts(kubeconfig, ['stagng'])).to.throw(
      UserError,
      /^--contexts: context "stagng" does not exist in the kubeconfig \(.*kubeconfig\); did you mean "staging"\?$/,
    )
    expect(() => fleetContexts(kubeconfig, ['xyz'])).to.throw(UserError, 'list them with: kubectl config get-contexts')
    expect(() => fleetContexts(kubeconfig, [])).to.throw(UserError, 'name at least one context')
    const empty = path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-fleet-')), 'kubeconfig')
    writeFileSync(empty, JSON.stringify({apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: []}))
    expect(() => fleetContexts(empty, undefined)).to.throw(UserError, '--all-contexts: the kubeconfig')
  })

  it('audits each cluster, keys findings by context, reports an unreachable one and finds the drift', async () => {
    const findings: Finding[] = []
    let flushes = 0
    const sink = {add: (f: Finding) => findings.push(f), flush: async () => void flushes++}
    const result = await runFleetAudit(
      {},
      {
        target: {kubeconfig, requestTimeout: '5s'},
        contexts: ['prod', 'staging', 'down'],
        pods: {allNamespaces: true},
        maxConcurrency: 2,
      },
      sink,
    )
    expect(result.clusters.map((c) => c.name)).to.deep.equal(['prod', 'staging', 'down'])
    expect(result.clusters[2].error).to.match(/^context "down": /)
    expect(result.clusters[2].error).to.not.include('token-down')
    expect(result.clusters[2].summary).to.equal(undefined)
    expect(result.workloads).to.equal(3)
    expect(new Set(findings.map((f) => f.cluster))).to.deep.equal(new Set(['prod', 'staging']))
    expect(findings.filter((f) => f.cluster === 'prod' && f.check === 'image-digest-missing')).to.have.length(1)
    const drift = findings.filter((f) => f.check === 'image-tag-digest-drift')
    expect(drift.map((f) => f.cluster).sort()).to.deep.equal(['prod', 'staging'])
    expect(drift[0].message).to.equal(
      `docker.io/library/nginx:1.25 runs as 2 different digests across clusters: ${DIGEST_A.slice(0, 19)}… in prod; ${DIGEST_B.slice(0, 19)}… in staging`,
    )
    expect(drift[0].resource).to.deep.equal({kind: 'Image', name: 'docker.io/library/nginx:1.25'})
    // The totals are the clusters' summaries added up, the drift findings counted in their cluster's.
    const [prod, staging] = result.clusters
    expect(result.summary.total).to.equal(findings.length)
    expect(result.summary.total).to.equal(prod.summary!.total + staging.summary!.total)
    expect(prod.summary!.medium).to.equal(
      findings.filter((f) => f.cluster === 'prod' && f.severity === 'medium').length,
    )
    expect(flushes).to.be.greaterThan(0)
    // The summary's part per cluster, in the order asked: counts and workloads, or the error.
    expect(result.summary.clusters).to.deep.equal([
      {cluster: 'prod', ...counts(prod.summary!), workloads: prod.workloads},
      {cluster: 'staging', ...counts(staging.summary!), workloads: staging.workloads},
      {cluster: 'down', error: result.clusters[2].error},
    ])
  })

  for (const format of ['json', 'yaml', 'sarif'] as const)
    it(`${format}: the fleet parks each finding's rendered text and prints the same bytes as from the findings`, async () => {
      const options = {version: '0.0.0', rules: CHECKS, colour: false, cwd: '/'}
      const collect = () => {
        let text = ''
        return {sink: {write: (chunk: string) => ((text += chunk), true), once: () => undefined}, text: () => text}
      }
      const fleet = {
        target: {kubeconfig, requestTimeout: '5s'},
        contexts: ['prod', 'staging'],
        pods: {allNamespaces: true},
        maxConcurrency: 2,
      }
      // The writer as the command hands it over (render + addRendered), and one that only takes findings.
      const direct = collect()
      const writer = reportWriter(format, direct.sink, options)
      let rendered = 0
      const counting = {
        ...writer,
        addRendered(text: string) {
          rendered++
          writer.addRendered!(text)
        },
      }
      const result = await runFleetAudit({}, fleet, counting)
      await writer.end(result.summary, {workloads: result.workloads, clusters: result.clusters})
      const parsed = collect()
      const plain = reportWriter(format, parsed.sink, options)
      const again = await runFleetAudit({}, fleet, {add: (f) => plain.add(f), flush: () => plain.flush()})
      await plain.end(again.summary, {workloads: again.workloads, clusters: again.clusters})
      expect(rendered).to.be.greaterThan(0)
      expect(direct.text()).to.equal(parsed.text())
      expect(direct.text()).to.contain('staging')
    })

  it('--max-concurrency 1 reads one cluster after the other; the findings come after, cluster by cluster', async () => {
    // One log across both servers and the sink: which cluster each request went to, when findings came.
    const log: string[] = []
    const originals = servers.map((server) => server.requests.push.bind(server.requests))
    servers.forEach((server, i) => {
      server.requests.push = (...items) => {
        log.push(`request ${i === 0 ? 'prod' : 'staging'}`)
        return originals[i](...items)
      }
    })
    try {
      await runFleetAudit(
        {ignoreChecks: ['image-tag-digest-drift']},
        {target: {kubeconfig}, contexts: ['prod', 'staging'], pods: {allNamespaces: true}, maxConcurrency: 1},
        {add: (f) => log.push(`finding ${f.cluster}`), flush: async () => {}},
      )
    } finally {
      servers.forEach((server, i) => (server.requests.push = originals[i]))
    }
    const compact = log.filter((entry, i) => entry !== log[i - 1])
    expect(compact).to.deep.equal(['request prod', 'request staging', 'finding prod', 'finding staging'])
  })

  it("each cluster's findings together, in the order asked, though the first answers last (its drift at its end)", async () => {
    const pair = [await FakeKubeApiServer.start(), await FakeKubeApiServer.start()]
    try {
      // prod: 1,100 pods (three pages of 500); staging: one. Read at once, staging is done first.
      for (let i = 0; i < 1100; i++) pair[0].seed(runningPod(`web-${i}`, 'nginx:1.25', DIGEST_A))
      pair[1].seed(runningPod('web-0', 'nginx:1.25', DIGEST_B))
      const config = fleetKubeconfig({prod: pair[0].url, staging: pair[1].url})
      const findings: Finding[] = []
      const result = await runFleetAudit(
        {},
        {target: {kubeconfig: config}, contexts: ['prod', 'staging'], pods: {allNamespaces: true}, maxConcurrency: 2},
        {add: (f) => findings.push(f), flush: async () => {}},
      )
      const runs = findings.map((f) => f.cluster).filter((cluster, i, all) => cluster !== all[i - 1])
      expect(runs).to.deep.equal(['prod', 'staging'])
      const prod = findings.filter((f) => f.cluster === 'prod')
      expect(prod.length).to.be.greaterThan(1100)
      expect(prod.at(-1)!.check).to.equal('image-tag-digest-drift')
      expect(findings.at(-1)!.check).to.equal('image-tag-digest-drift')
      expect(prod.filter((f) => f.check === 'image-tag-digest-drift')).to.have.length(1)
      expect(result.summary.clusters!.map((c) => ('error' in c ? c.error : c.total))).to.deep.equal([
        prod.length,
        findings.length - prod.length,
      ])
    } finally {
      for (const server of pair) await server.stop()
    }
  })

  it('finds the drift on the path that reads every image first (--resolve-digests)', async () => {
    const pair = [await FakeKubeApiServer.start(), await FakeKubeApiServer.start()]
    try {
      // A registry that refuses the connection: resolving fails (a notice), the audit goes on.
      pair[0].seed(runningPod('app-0', '127.0.0.1:1/app:1.0', DIGEST_A))
      pair[1].seed(runningPod('app-0', '127.0.0.1:1/app:1.0', DIGEST_B))
      const config = fleetKubeconfig({east: pair[0].url, west: pair[1].url})
      const findings: Finding[] = []
      const result = await runFleetAudit(
        {resolveDigests: {}},
        {target: {kubeconfig: config}, contexts: ['east', 'west'], pods: {allNamespaces: true}, maxConcurrency: 2},
        {add: (f) => findings.push(f), flush: async () => {}},
      )
      expect(result.notices.some((n) => n.startsWith('context "east": '))).to.equal(true)
      const drift = findings.filter((f) => f.check === 'image-tag-digest-drift')
      expect(drift.map((f) => f.cluster)).to.deep.equal(['east', 'west'])
      expect(drift[0].message).to.equal(
        `127.0.0.1:1/app:1.0 runs as 2 different digests across clusters: ${DIGEST_A.slice(0, 19)}… in east; ${DIGEST_B.slice(0, 19)}… in west`,
      )
      const east = result.clusters[0].summary!
      expect(east.total).to.equal(findings.filter((f) => f.cluster === 'east').length)
    } finally {
      for (const server of pair) await server.stop()
    }
  })

  it('--ignore-check image-tag-digest-drift leaves the drift out', async () => {
    const findings: Finding[] = []
    await runFleetAudit(
      {ignoreChecks: ['image-tag-digest-drift']},
      {target: {kubeconfig}, contexts: ['prod', 'staging'], pods: {allNamespaces: true}, maxConcurrency: 1},
      {add: (f) => findings.push(f), flush: async () => {}},
    )
    expect(findings.length).to.be.greaterThan(0)
    expect(findings.some((f) => f.check === 'image-tag-digest-drift')).to.equal(false)
  })

  it('image-tag-digest-drift: only tags whose digests differ between clusters, one finding per cluster', () => {
    expect(CHECK_IDS.at(-1)).to.equal('image-tag-digest-drift')
    const running = new Map([
      ['r/a:1', new Map([[DIGEST_A, ['x', 'y']]])],
      // x and y each run both digests: a mismatch inside each cluster, the same in both.
      [
        'r/d:1',
        new Map([
          [DIGEST_A, ['x', 'y']],
          [DIGEST_B, ['y', 'x']],
        ]),
      ],
      [
        'r/b:1',
        new Map([
          [DIGEST_A, ['x']],
          [DIGEST_B, ['x']],
        ]),
      ],
      [
        'r/c:1',
        // In the order the clusters answered: the message sorts digests and contexts.
        new Map([
          [DIGEST_B, ['z', 'y']],
          [DIGEST_A, ['x']],
        ]),
      ],
    ])
    const results = imageTagDigestDrift.run(running)
    expect(results.map((r) => `${r.cluster} ${r.image}`)).to.deep.equal(['x r/c:1', 'y r/c:1', 'z r/c:1'])
    expect(results[0].message).to.equal(
      `r/c:1 runs as 2 different digests across clusters: ${DIGEST_A.slice(0, 19)}… in x; ${DIGEST_B.slice(0, 19)}… in y, z`,
    )
  })
})

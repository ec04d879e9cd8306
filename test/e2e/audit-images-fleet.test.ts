import {expect} from 'chai'

import {runCli} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {runningPod, writeFleetKubeconfig} from '../support/fleet-kubeconfig.js'

const DIGEST_A = `sha256:${'a'.repeat(64)}`
const DIGEST_B = `sha256:${'b'.repeat(64)}`

interface JsonFinding {
  cluster?: string
  check: string
  severity: string
  resource: {kind: string; namespace: string; name: string}
  image: string
  message: string
}

describe('audit images --contexts / --all-contexts (built CLI, several fake API servers)', () => {
  const servers: FakeKubeApiServer[] = []
  let kubeconfig: string
  before(async () => {
    for (let i = 0; i < 3; i++) servers.push(await FakeKubeApiServer.start())
    // prod and staging run nginx:1.25 as different digests; edge runs only a pinned image.
    servers[0].seed(runningPod('web-0', 'nginx:1.25', DIGEST_A))
    servers[1].seed(runningPod('web-0', 'nginx:1.25', DIGEST_B))
    servers[1].seed(runningPod('batch-0', 'busybox:1.36', DIGEST_A))
    servers[2].seed(runningPod('pinned', `nginx@${DIGEST_A}`, DIGEST_A))
    // "down" names a port nothing listens on: an unreachable cluster.
    kubeconfig = writeFleetKubeconfig({
      prod: servers[0].url,
      staging: servers[1].url,
      edge: servers[2].url,
      down: 'http://127.0.0.1:1',
    })
  })
  after(async () => {
    for (const server of servers) await server.stop()
  })

  const run = async (args: string[]) => runCli(['audit', 'images', ...args], {env: {KUBECONFIG: kubeconfig}})

  it('keys every finding by its context in JSON and finds the tag that drifts between clusters', async () => {
    const result = await run(['--contexts', 'prod,staging', '--contexts', 'edge', '-o', 'json', '--fail-on', 'none'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.equal('')
    const doc = JSON.parse(result.stdout) as {findings: JsonFinding[]; summary: {total: number; medium: number}}
    expect(new Set(doc.findings.map((f) => f.cluster))).to.deep.equal(new Set(['prod', 'staging', 'edge']))
    expect(Object.keys(doc.findings[0])[0]).to.equal('cluster')
    const busybox = doc.findings.filter((f) => f.image === 'busybox:1.36')
    expect(busybox.length).to.be.greaterThan(0)
    expect(busybox.every((f) => f.cluster === 'staging')).to.equal(true)
    const drift = doc.findings.filter((f) => f.check === 'image-tag-digest-drift')
    expect(drift.map((f) => f.cluster).sort()).to.deep.equal(['prod', 'staging'])
    expect(drift[0]).to.include({severity: 'medium', image: 'docker.io/library/nginx:1.25'})
    expect(drift[0].message).to.equal(
      `docker.io/library/nginx:1.25 runs as 2 different digests across clusters: ${DIGEST_A.slice(0, 19)}… in prod; ${DIGEST_B.slice(0, 19)}… in staging`,
    )
    expect(doc.summary.total).to.equal(doc.findings.length)
    // Each cluster's pods were read in its context's namespace (none set: default).
    for (const server of servers)
      expect(server.requests.some((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/default/pods')).to.equal(
        true,
      )
  })

  it('reports an unreachable cluster in one error line and keeps the others, exit 1', async () => {
    const result = await run(['--contexts', 'prod,down,staging', '-o', 'json', '--max-concurrency', '1'])
    expect(result.code).to.equal(1)
    const lines = result.stderr.trimEnd().split('\n')
    expect(lines).to.have.length(1)
    expect(lines[0]).to.match(/^error: context "down": .*127\.0\.0\.1:1/)
    expect(lines[0].match(/"down"/g)).to.have.length(1)
    expect(result.stderr).to.not.include('token-')
    const doc = JSON.parse(result.stdout) as {
      findings: JsonFinding[]
      summary: {total: number; clusters: Array<{cluster: string; total?: number; workloads?: number; error?: string}>}
    }
    // Each cluster's findings together, in the order asked.
    const runs = doc.findings.map((f) => f.cluster).filter((cluster, i, all) => cluster !== all[i - 1])
    expect(runs).to.deep.equal(['prod', 'staging'])
    expect(doc.findings.some((f) => f.check === 'image-tag-digest-drift')).to.equal(true)
    // The summary's part per cluster: counts and workloads, or the error line's text.
    expect(doc.summary.clusters.map((c) => c.cluster)).to.deep.equal(['prod', 'down', 'staging'])
    const [prod, down, staging] = doc.summary.clusters
    expect(prod.total).to.equal(doc.findings.filter((f) => f.cluster === 'prod').length)
    expect(staging.total).to.equal(doc.findings.filter((f) => f.cluster === 'staging').length)
    expect(prod).to.include({workloads: 1})
    expect(staging).to.include({workloads: 2})
    expect(down).to.deep.equal({cluster: 'down', error: lines[0].replace(/^error: /, '')})
    expect(prod.total! + staging.total!).to.equal(doc.summary.total)
  })

  it('--all-contexts: every context, the table per cluster with its summary line, then the totals', async () => {
    const result = await run(['--all-contexts', '--fail-on', 'none'])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(/^error: context "down": [^\n]+\n$/)
    const lines = result.stdout.split('\n')
    const clusterLines = lines.filter((line) => line.startsWith('Cluster '))
    expect(clusterLines).to.have.length(4)
    expect(clusterLines[0]).to.match(
      /^Cluster prod: 0 critical, \d+ high, \d+ medium, \d+ low \(\d+ findings in 1 of 1 workload\)$/,
    )
    expect(clusterLines[3]).to.equal('Cluster down: not audited (the error is below).')
    expect(clusterLines.map((line) => line.split(':')[0])).to.deep.equal([
      'Cluster prod',
      'Cluster staging',
      'Cluster edge',
      'Cluster down',
    ])
    // Each cluster's groups follow its line: staging's busybox only in staging's section.
    const staging = lines.indexOf(clusterLines[1])
    const edge = lines.indexOf(clusterLines[2])
    const busybox = lines.findIndex((line) => line === 'Pod default/batch-0')
    expect(busybox).to.be.greaterThan(staging).and.lessThan(edge)
    expect(lines.filter((line) => line === 'Image docker.io/library/nginx:1.25')).to.have.length(2)
    expect(lines.at(-2)).to.match(
      /^Summary: 0 critical, \d+ high, \d+ medium, \d+ low \(\d+ findings in 4 of 4 workloads\)$/,
    )
  })

  it('SARIF and YAML name the cluster of each result', async () => {
    const sarif = await run(['--contexts', 'prod,staging', '-o', 'sarif', '--fail-on', 'none'])
    expect(sarif.code, sarif.stderr).to.equal(0)
    const results = (JSON.parse(sarif.stdout) as {runs: Array<{results: any[]}>}).runs[0].results
    const drift = results.filter((r) => r.ruleId === 'image-tag-digest-drift')
    expect(drift.map((r) => r.properties.cluster).sort()).to.deep.equal(['prod', 'staging'])
    for (const r of results) {
      const name = r.locations[0].logicalLocations[0].fullyQualifiedName as string
      expect(name.startsWith(`${r.properties.cluster}/`), name).to.equal(true)
      expect(r.message.text).to.include(`(cluster ${r.properties.cluster}, `)
    }
    const properties = (JSON.parse(sarif.stdout) as {runs: Array<{properties: {clusters: Array<{cluster: string}>}}>})
      .runs[0].properties
    expect(properties.clusters.map((c) => c.cluster)).to.deep.equal(['prod', 'staging'])
    const yaml = await run(['--contexts', 'edge', '-o', 'yaml', '--fail-on', 'none'])
    expect(yaml.code, yaml.stderr).to.equal(0)
    expect(yaml.stdout).to.match(/^findings:\n- cluster: edge\n {2}check: /)
    expect(yaml.stdout).to.match(/\n {2}clusters:\n {2}- cluster: edge\n {4}critical: 0\n[^]* {4}workloads: 1\n$/)
  })

  it("-A and -n apply to every cluster; a 403 is one cluster's error", async () => {
    const forbidden = await FakeKubeApiServer.start({deny: [{verb: 'list', resource: 'pods'}]})
    try {
      const file = writeFleetKubeconfig({prod: servers[0].url, locked: forbidden.url})
      const all = await runCli(['audit', 'images', '--all-contexts', '-A', '-o', 'json', '--fail-on', 'none'], {
        env: {KUBECONFIG: file},
      })
      expect(all.code).to.equal(1)
      expect(all.stderr).to.match(/^error: context "locked": [^\n]*pods[^\n]*\n$/)
      expect(all.stderr).to.not.include('token-')
      const doc = JSON.parse(all.stdout) as {findings: JsonFinding[]}
      expect(new Set(doc.findings.map((f) => f.cluster))).to.deep.equal(new Set(['prod']))
      expect(servers[0].requests.some((r) => r.path === '/api/v1/pods')).to.equal(true)
      const before = servers[0].requests.length
      const one = await runCli(['audit', 'images', '--contexts', 'prod', '-n', 'shop', '-o', 'json'], {
        env: {KUBECONFIG: file},
      })
      expect(one.code, one.stderr).to.equal(0)
      const paths = servers[0].requests.slice(before).map((r) => r.path)
      expect(paths).to.include('/api/v1/namespaces/shop/pods')
      expect(paths.filter((p) => p.endsWith('/pods'))).to.deep.equal(['/api/v1/namespaces/shop/pods'])
    } finally {
      await forbidden.stop()
    }
  })

  it('refuses an unknown context with a suggestion, before reading any cluster', async () => {
    const before = servers[0].requests.length
    const result = await run(['--contexts', 'prod,stagng'])
    expect(result.code).to.equal(1)
    expect(result.stdout).to.equal('')
    expect(result.stderr).to.match(
      /^error: --contexts: context "stagng" does not exist in the kubeconfig \(.+\); did you mean "staging"\?\n$/,
    )
    expect(servers[0].requests.length).to.equal(before)
  })

  it('refuses the fleet flags where they do nothing', async () => {
    const cases: Array<[string[], string]> = [
      [
        ['-f', 'examples', '--contexts', 'prod'],
        '--contexts applies only to the cluster audit (without -f or --image-archive)',
      ],
      [
        ['--image-archive', 'x.tar', '--all-contexts'],
        '--all-contexts applies only to the cluster audit (without -f or --image-archive)',
      ],
      [
        ['--contexts', 'prod', '--context', 'prod'],
        '--context applies only without --contexts or --all-contexts (which name the clusters)',
      ],
      [
        ['--all-contexts', '--context', 'prod'],
        '--context applies only without --contexts or --all-contexts (which name the clusters)',
      ],
      [
        ['--all-contexts', '--contexts', 'prod'],
        '--all-contexts applies only without --contexts (which names the clusters)',
      ],
      [['--max-concurrency', '2'], '--max-concurrency applies only with --contexts or --all-contexts'],
    ]
    for (const [args, message] of cases) {
      const result = await run(args)
      expect(result.code, args.join(' ')).to.equal(1)
      expect(result.stderr, args.join(' ')).to.equal(`error: ${message}\n`)
    }
    const zero = await run(['--all-contexts', '--max-concurrency', '0'])
    expect(zero.code).to.equal(1)
    expect(zero.stderr).to.match(/^error: .*max-concurrency/)
  })
})

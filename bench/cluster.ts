// Benchmark 1: `audit images -A` against a 10,000-pod cluster, compared with
// `kubectl get pods -A -o json` against the same fake API server in the same process.
import {readFileSync, rmSync} from 'node:fs'
import path from 'node:path'

import {FakeKubeApiServer} from '../test/support/fake-kube-api.js'
import {CLUSTER_SHAPE, seedCluster} from './fixtures/cluster.js'
import {
  benchEnv,
  hasGnuTime,
  measureCommand,
  mib,
  ms,
  ratio,
  type RssMode,
  type RunResult,
  scratchDir,
  type Stats,
  stats,
  type Target,
} from './support/measure.js'

export const KUBECTL = '/usr/bin/kubectl'
export const CLUSTER_TARGETS = {timeRatio: 1.3, maxRssMiB: 250} as const

export interface CommandReport {
  label: string
  command: string
  wall: Stats
  /** Peak RSS per run (KiB), when measured. */
  rss?: Stats
  /** CPU time (user + system) per run, ms, when measured. */
  cpu?: Stats
  /** Requests one run made, grouped by path (from the last measured run). */
  requests: number
  requestPaths: Record<string, number>
  /** Milliseconds the fake server's event loop spent building and sending this command's responses (median over runs). */
  serverBusy?: Stats
  /** Response bytes the server sent to one run. */
  responseBytes: number
}

export interface ClusterReport {
  shape: {
    namespaces: number
    deployments: number
    replicaSets: number
    pods: number
    secrets: number
    serviceAccounts: number
  }
  seedMs: number
  rssMethod: string
  kubectl: CommandReport
  audit: CommandReport
  emptyClusterAudit: {wallMs: number; rssKiB?: number; requests: number}
  auditOutput: {findings: number; resources: number; kinds: Record<string, number>}
  kubectlItems: number
  targets: Target[]
}

interface ServerProbe {
  busyMs: number
  bytes: number
  /** Whether the probe could hook the server's internals (it reads private methods). */
  hooked: boolean
}

/**
 * Measure the fake server's own work: the synchronous time of its private dispatch() (routing,
 * selection, sorting, cloning) and send() (JSON.stringify + write), and the bytes sent.
 * Bench-only instrumentation; the server's behaviour is unchanged.
 */
function probeServer(server: FakeKubeApiServer): ServerProbe {
  const probe: ServerProbe = {busyMs: 0, bytes: 0, hooked: false}
  const internals = server as unknown as Record<string, unknown>
  const dispatch = internals.dispatch
  const send = internals.send
  if (typeof dispatch !== 'function' || typeof send !== 'function') return probe
  internals.dispatch = function (this: unknown, ...args: unknown[]) {
    const started = performance.now()
    try {
      return dispatch.apply(server, args)
    } finally {
      probe.busyMs += performance.now() - started
    }
  }
  internals.send = function (this: unknown, ...args: unknown[]) {
    const res = args[0] as {end: (...a: unknown[]) => unknown}
    const end = res.end
    res.end = function (this: unknown, chunk?: unknown, ...rest: unknown[]) {
      if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) probe.bytes += Buffer.byteLength(chunk)
      return end.call(this, chunk, ...rest)
    }
    const started = performance.now()
    try {
      return send.apply(server, args)
    } finally {
      probe.busyMs += performance.now() - started
    }
  }
  probe.hooked = true
  return probe
}

function summarizePaths(requests: Array<{path: string}>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const {path: p} of requests) out[p] = (out[p] ?? 0) + 1
  return out
}

export async function runClusterBench(options: {
  runs: number
  cli: string
  log: (line: string) => void
}): Promise<ClusterReport> {
  const {log} = options
  const dir = scratchDir('imgsec-bench-cluster-')
  const gnuTime = hasGnuTime()
  const server = await FakeKubeApiServer.start({})
  const empty = await FakeKubeApiServer.start({})
  try {
    const seedStarted = performance.now()
    const counts = seedCluster(server)
    const seedMs = performance.now() - seedStarted
    const shape = {...counts, serviceAccounts: server.listObjects('serviceaccounts').length}
    log(
      `cluster: seeded ${counts.pods} pods, ${counts.replicaSets} ReplicaSets, ${counts.deployments} Deployments in ${counts.namespaces} namespaces (${ms(seedMs)})`,
    )
    const kubeconfig = await server.writeKubeconfig(path.join(dir, 'kubeconfig'))
    const emptyKubeconfig = await empty.writeKubeconfig(path.join(dir, 'kubeconfig-empty'))
    const probe = probeServer(server)
    // One HOME for every run: kubectl keeps its discovery cache there, as it would for a user.
    const home = path.join(dir, 'home')
    const kubectlArgs = ['--kubeconfig', kubeconfig, 'get', 'pods', '-A', '-o', 'json']
    const auditArgs = [options.cli, 'audit', 'images', '-A', '-o', 'json', '--fail-on', 'none']
    const kubectlEnv = benchEnv(home)
    const auditEnv = benchEnv(home, {KUBECONFIG: kubeconfig})

    // With GNU time both commands run under `/usr/bin/time -f %M` (the same ~1 ms wrapper on both
    // sides); without it, node's own getrusage peak is read by a preloaded helper.
    const nodeRss: RssMode = gnuTime ? 'gnu-time' : 'helper'
    const kubectlRss: RssMode = gnuTime ? 'gnu-time' : 'none'
    const rssMethod = gnuTime
      ? "GNU time `%M` (getrusage `ru_maxrss` of the child, also `%U %S` for its CPU time); both commands run under `/usr/bin/time -f '%M %U %S' -o FILE`, a wrapper that costs the same ~1 ms on both sides"
      : '`process.resourceUsage().maxRSS` read at exit by `bench/support/maxrss.cjs` (`node --require`); kubectl RSS not measured'
    type Sample = RunResult & {requests: Array<{path: string}>; busyMs: number; bytes: number}
    const run = async (which: 'kubectl' | 'audit', stdoutFile?: string): Promise<Sample> => {
      const before = server.requests.length
      probe.busyMs = 0
      probe.bytes = 0
      const result =
        which === 'kubectl'
          ? await measureCommand(KUBECTL, kubectlArgs, {env: kubectlEnv, stdoutFile, rss: kubectlRss})
          : await measureCommand(process.execPath, auditArgs, {env: auditEnv, stdoutFile, rss: nodeRss})
      return {...result, requests: server.requests.slice(before), busyMs: probe.busyMs, bytes: probe.bytes}
    }

    // Warm-up (not counted): fills kubectl's discovery cache and the page cache, and checks
    // that both commands see the whole cluster.
    log('cluster: warm-up run of each command (not counted)')
    const kubectlOut = path.join(dir, 'kubectl.json')
    await run('kubectl', kubectlOut)
    const kubectlItems = (JSON.parse(readFileSync(kubectlOut, 'utf8')) as {items: unknown[]}).items.length
    rmSync(kubectlOut)
    if (kubectlItems !== counts.pods) throw new Error(`kubectl listed ${kubectlItems} pods, expected ${counts.pods}`)
    const auditOut = path.join(dir, 'audit.json')
    await run('audit', auditOut)
    const auditDoc = JSON.parse(readFileSync(auditOut, 'utf8')) as {
      findings: Array<{resource: {kind: string; namespace: string; name: string}}>
    }
    rmSync(auditOut)
    const resources = new Set(
      auditDoc.findings.map((f) => `${f.resource.kind}/${f.resource.namespace}/${f.resource.name}`),
    )
    const kinds: Record<string, number> = {}
    for (const r of resources) kinds[r.split('/')[0]] = (kinds[r.split('/')[0]] ?? 0) + 1
    if (!kinds.Deployment || Object.keys(kinds).some((k) => k !== 'Deployment'))
      throw new Error(`audit did not fold pods into Deployments: ${JSON.stringify(kinds)}`)

    const samples = {kubectl: [] as Sample[], audit: [] as Sample[]}
    for (let i = 0; i < options.runs; i++) {
      // Interleaved, alternating which goes first (ABBA…), so drift hits both sides alike.
      const order: Array<'kubectl' | 'audit'> = i % 2 === 0 ? ['kubectl', 'audit'] : ['audit', 'kubectl']
      for (const which of order) {
        const sample = await run(which)
        samples[which].push(sample)
        log(
          `cluster: run ${i + 1}/${options.runs} ${which.padEnd(7)} ${ms(sample.ms).padStart(9)}${sample.cpuMs !== undefined ? `  CPU ${ms(sample.cpuMs)}` : ''}${sample.maxRssKiB ? `  peak RSS ${mib(sample.maxRssKiB)}` : ''}  ${sample.requests.length} requests, server busy ${ms(sample.busyMs)}`,
        )
      }
    }

    // Fixed cost: the same audit command against an empty cluster (oclif + client-node + a few requests).
    const emptyBefore = empty.requests.length
    const emptyRun = await measureCommand(process.execPath, auditArgs, {
      env: benchEnv(home, {KUBECONFIG: emptyKubeconfig}),
      rss: nodeRss,
    })
    const emptyRequests = empty.requests.length - emptyBefore
    const emptyRss = emptyRun.maxRssKiB
    log(`cluster: audit against an empty cluster ${ms(emptyRun.ms)}${emptyRss ? `, peak RSS ${mib(emptyRss)}` : ''}`)

    const report = (label: string, command: string, list: Sample[]): CommandReport => {
      const last = list.at(-1)!
      const rssValues = list
        .map((s) => s.maxRssKiB)
        .filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
      return {
        label,
        command,
        wall: stats(list.map((s) => s.ms)),
        ...(rssValues.length === list.length ? {rss: stats(rssValues)} : {}),
        ...(list.every((s) => s.cpuMs !== undefined) ? {cpu: stats(list.map((s) => s.cpuMs!))} : {}),
        requests: last.requests.length,
        requestPaths: summarizePaths(last.requests),
        ...(probe.hooked ? {serverBusy: stats(list.map((s) => s.busyMs))} : {}),
        responseBytes: last.bytes,
      }
    }
    const kubectl = report('(a) kubectl', `${KUBECTL} --kubeconfig F get pods -A -o json > /dev/null`, samples.kubectl)
    const audit = report(
      '(b) audit',
      'KUBECONFIG=F node bin/run.js audit images -A -o json --fail-on none > /dev/null',
      samples.audit,
    )
    const timeRatio = audit.wall.median / kubectl.wall.median
    const targets: Target[] = [
      {
        name: 'cluster audit wall time ≤ 1.3 × kubectl get pods -A -o json (medians)',
        measured: `${ratio(timeRatio)} (${ms(audit.wall.median)} / ${ms(kubectl.wall.median)})`,
        limit: `≤ ${ratio(CLUSTER_TARGETS.timeRatio)}`,
        pass: timeRatio <= CLUSTER_TARGETS.timeRatio,
      },
    ]
    if (audit.rss) {
      targets.push({
        name: 'cluster audit peak RSS ≤ 250 MiB (highest of the measured runs)',
        measured: `${mib(audit.rss.max)} (median ${mib(audit.rss.median)})`,
        limit: `≤ ${CLUSTER_TARGETS.maxRssMiB} MiB`,
        pass: audit.rss.max <= CLUSTER_TARGETS.maxRssMiB * 1024,
      })
    }
    return {
      shape,
      seedMs,
      rssMethod,
      kubectl,
      audit,
      emptyClusterAudit: {wallMs: emptyRun.ms, rssKiB: emptyRss, requests: emptyRequests},
      auditOutput: {findings: auditDoc.findings.length, resources: resources.size, kinds},
      kubectlItems,
      targets,
    }
  } finally {
    await server.stop()
    await empty.stop()
    rmSync(dir, {recursive: true, force: true})
  }
}

export {CLUSTER_SHAPE}

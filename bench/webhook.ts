// Benchmark 3: throughput and latency of the ImagePolicyWebhook backend (dist/imgsec-webhook.mjs)
// over loopback HTTPS keep-alive, compared with a bare Node HTTPS server that answers every POST
// with a constant ImageReview, measured in the same run.
//
// Separate processes, so that no two of them share an event loop:
// - (a) the real backend: `node dist/imgsec-webhook.mjs --cert --key --client-ca ... --allowed-registries docker.io,registry.k8s.io`
//   (from the bench's private copy of the build); its stdout (the JSON decision log, one line per
//   review) goes through a pipe to `cat > FILE`, as a container runtime's shim copies it to a log
//   file; the bench counts the decisions in that file at the end;
// - (b) the bare server: `node --input-type=module -e BARE_SERVER` (below), same certificate and key,
//   same client-certificate requirement (requestCert, checked per request), same keepAliveTimeout;
// - the load generator(s): this file run as `node --import tsx bench/webhook.ts --load-generator`,
//   driven over IPC. Each keeps one keep-alive https.Agent per server and runs closed-loop workers.
//
// Knobs (environment): BENCH_WEBHOOK_RUNS (in run.ts, default 3), BENCH_WEBHOOK_SECONDS (measured
// seconds per run, default 8), BENCH_WEBHOOK_CONCURRENCY (requests in flight, default 16),
// BENCH_WEBHOOK_CLIENTS (load-generator processes sharing them, default 1),
// BENCH_WEBHOOK_BACKEND_NODE_ARGS and BENCH_WEBHOOK_BARE_NODE_ARGS (node flags for one server, e.g.
// "--cpu-prof --cpu-prof-dir=DIR": the profile is written when the bench stops it).
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {createCertificateAuthority, issueCertificate} from '../src/lib/whitelist/certificates.js'
import {hex64, rng} from './fixtures/random.js'
import {benchEnv, BenchCrash, ratio, ROOT, scratchDir, type Stats, stats, type Target} from './support/measure.js'

export const WEBHOOK_TARGETS = {throughputRatio: 0.9, p99GoalMs: 3} as const
export const WEBHOOK_ALLOWED_REGISTRIES = 'docker.io,registry.k8s.io'
const THIS_FILE = fileURLToPath(import.meta.url)
const BREAK_GLASS = 'alpha.image-policy.k8s.io/break-glass'

// ---------------------------------------------------------------------------------------------
// Request pool: ImageReviews as kube-apiserver sends them (Go encoding of imagepolicy/v1alpha1:
// kind first, metadata.creationTimestamp null, annotations omitted when empty, status.allowed false).

/** Images the policy allows (registry docker.io or registry.k8s.io, a tag other than latest, or a digest). */
const ALLOWED_IMAGES: readonly string[] = [
  'nginx:1.27.3',
  'docker.io/library/nginx:1.27.3',
  'docker.io/library/redis:7.4.1',
  'postgres:16.4-alpine',
  'busybox:1.36.1',
  'python:3.12-slim',
  'registry.k8s.io/pause:3.10',
  'registry.k8s.io/coredns/coredns:v1.11.3',
  'registry.k8s.io/ingress-nginx/controller:v1.11.3',
  'registry.k8s.io/kube-proxy:v1.32.0',
  'docker.io/bitnami/kafka:3.8.1',
  'grafana/grafana:11.3.0',
  'envoyproxy/envoy:v1.32.1',
  `docker.io/library/alpine@sha256:${hex64('alpine')}`,
  `registry.k8s.io/metrics-server/metrics-server:v0.7.2@sha256:${hex64('metrics-server')}`,
]

/** Images the policy refuses: another registry, :latest, or no tag. */
const DENIED_IMAGES: readonly string[] = [
  'ghcr.io/acme/api:v2.3.1',
  'quay.io/prometheus/node-exporter:v1.8.2',
  'mycorp.azurecr.io/payments/service:3.4.0',
  'gcr.io/distroless/static:nonroot',
  'registry.example.com:5000/team/app:1.0.4',
  'nginx:latest',
  'docker.io/library/redis:latest',
  'redis',
]

const NAMESPACES: readonly string[] = [
  'default',
  'payments',
  'web',
  'batch',
  'monitoring',
  'ingress-nginx',
  'team-a',
  'team-b',
  'kube-system',
]

export interface PoolEntry {
  body: string
  expectedAllowed: boolean
}

export interface PoolShape {
  reviews: number
  expectedAllowed: number
  expectedDenied: number
  withRefusedImage: number
  breakGlass: number
  kubeSystem: number
  containers: Record<string, number>
  requestBytes: {min: number; mean: number; max: number}
}

/**
 * A deterministic pool of ImageReviews: 1–3 containers, about a third with a refused image (of
 * those, a quarter carry the break-glass annotation, which lets them through), some kube-system
 * pods (exempt), some with another forwarded `*.image-policy.k8s.io/` annotation.
 */
export function reviewPool(size = 256): {entries: PoolEntry[]; shape: PoolShape} {
  const random = rng(0x1de4)
  const entries: PoolEntry[] = []
  const shape: PoolShape = {
    reviews: size,
    expectedAllowed: 0,
    expectedDenied: 0,
    withRefusedImage: 0,
    breakGlass: 0,
    kubeSystem: 0,
    containers: {},
    requestBytes: {min: Infinity, mean: 0, max: 0},
  }
  for (let i = 0; i < size; i++) {
    const namespace = random.chance(0.08) ? 'kube-system' : random.pick(NAMESPACES.slice(0, -1))
    const count = random.chance(0.55) ? 1 : random.chance(0.65) ? 2 : 3
    const refused = random.chance(0.35)
    const images = Array.from({length: count}, () => random.pick(ALLOWED_IMAGES))
    if (refused) images[random.int(count)] = random.pick(DENIED_IMAGES)
    const annotations: Record<string, string> = {}
    const breakGlass = refused && random.chance(0.25)
    if (breakGlass) annotations[BREAK_GLASS] = 'true'
    if (random.chance(0.15)) annotations['mycluster.image-policy.k8s.io/ticket'] = `OPS-${1000 + random.int(9000)}`
    const spec: Record<string, unknown> = {containers: images.map((image) => ({image}))}
    if (Object.keys(annotations).length > 0) spec.annotations = annotations
    spec.namespace = namespace
    const body = JSON.stringify({
      kind: 'ImageReview',
      apiVersion: 'imagepolicy.k8s.io/v1alpha1',
      metadata: {creationTimestamp: null},
      spec,
      status: {allowed: false},
    })
    const expectedAllowed = namespace === 'kube-system' || !refused || breakGlass
    entries.push({body, expectedAllowed})
    shape[expectedAllowed ? 'expectedAllowed' : 'expectedDenied']++
    if (refused) shape.withRefusedImage++
    if (breakGlass) shape.breakGlass++
    if (namespace === 'kube-system') shape.kubeSystem++
    shape.containers[count] = (shape.containers[count] ?? 0) + 1
    const bytes = Buffer.byteLength(body)
    shape.requestBytes.min = Math.min(shape.requestBytes.min, bytes)
    shape.requestBytes.max = Math.max(shape.requestBytes.max, bytes)
    shape.requestBytes.mean += bytes / size
  }
  return {entries, shape}
}

// ---------------------------------------------------------------------------------------------
// The bare server (b): plain JavaScript run with `node --input-type=module -e`, no tsx.

const BARE_SERVER = `
import {readFileSync} from 'node:fs'
import {createServer} from 'node:https'
const config = JSON.parse(process.env.BENCH_BARE_CONFIG)
const body = config.body
const length = Buffer.byteLength(body)
const server = createServer({cert: readFileSync(config.cert), key: readFileSync(config.key), ca: readFileSync(config.ca), requestCert: true, rejectUnauthorized: false}, (req, res) => {
  if (!req.socket.authorized) {
    res.writeHead(401, {'content-type': 'text/plain; charset=utf-8', 'content-length': 4})
    res.end('401\\n')
    return
  }
  req.resume()
  req.on('end', () => {
    res.writeHead(200, {'content-type': 'application/json', 'content-length': length})
    res.end(body)
  })
})
server.keepAliveTimeout = 65000
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({event: 'listening', port: server.address().port}) + '\\n'))
process.once('SIGTERM', () => {
  server.closeIdleConnections()
  server.close(() => process.exit(0))
})
`

// ---------------------------------------------------------------------------------------------
// The load generator (child process, IPC; one by default, BENCH_WEBHOOK_CLIENTS to split the
// connections over more processes).

interface LoadInit {
  type: 'init'
  ca: string
  cert: string
  key: string
  bodies: string[]
  /** Where this generator starts in the pool (generators walk it from different places). */
  offset: number
  concurrency: number
}

interface LoadRun {
  type: 'run'
  id: number
  port: number
  serverPid: number
  /** The backend's log reader (cat): its CPU is counted for every run (it idles during (b)'s). */
  readerPid: number
  warmupMs: number
  measureMs: number
}

/** [server, log reader, bench process] CPU jiffies and [busy, steal, total] of all CPUs. */
type Counters = {server: number; reader: number; bench: number; machine: [number, number, number]}

interface GeneratorResult {
  type: 'result'
  id: number
  /** Latencies (ms) of the responses completed inside the measured window. */
  latencies: Float64Array
  /** All responses of the run, warm-up and the tail after the window included. */
  completed: number
  errors: number
  firstError?: string
  /** This generator's own CPU over the window, ms. */
  clientCpuMs: number
  /** Counter deltas over the window (jiffies), read by this generator at the window's edges. */
  counters: Counters
}

export interface RunSample {
  /** Responses completed inside the measured window, all generators. */
  requests: number
  completed: number
  rps: number
  p50: number
  p90: number
  p99: number
  max: number
  /** Server process CPU (user + system, all threads) during the window, % of one core. */
  serverCpuPct: number
  /** Server CPU per request in the window, µs. */
  serverCpuUs: number
  /** Load-generator CPU during the window (all generators), % of one core. */
  clientCpuPct: number
  /** The log reader's (cat's) CPU during the window, % of one core. */
  readerCpuPct: number
  /** The bench process's CPU during the window, % of one core (it only waits for the results). */
  benchCpuPct: number
  /** All CPUs during the window (/proc/stat): busy and stolen time, % of one core (100 × cores = all busy). */
  machineBusyPct: number
  stealPct: number
  /** All CPUs minus the processes above: other work on the machine, % of one core. */
  otherCpuPct: number
}

function procCpuTicks(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return Number(fields[11]) + Number(fields[12])
}

/** [busy, steal, total] jiffies of all CPUs, from the first line of /proc/stat. */
function machineTicks(): [number, number, number] {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  return [
    user + nice + system + irq + softirq + steal,
    steal,
    user + nice + system + idle + iowait + irq + softirq + steal,
  ]
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

async function loadGenerator(): Promise<void> {
  let init: LoadInit | undefined
  let bodies: Buffer[] = []
  const agents = new Map<number, https.Agent>()
  let next = 0
  const agentFor = (port: number) => {
    let agent = agents.get(port)
    if (!agent) {
      agent = new https.Agent({
        keepAlive: true,
        maxSockets: init!.concurrency,
        ca: init!.ca,
        cert: init!.cert,
        key: init!.key,
      })
      agents.set(port, agent)
    }
    return agent
  }
  const post = (port: number, agent: https.Agent, body: Buffer) =>
    new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          agent,
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/image_policy',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, */*',
            'content-length': body.length,
            'user-agent': 'kube-apiserver-admission',
          },
        },
        (res) => {
          res.on('data', () => {})
          res.on('end', () => resolve(res.statusCode ?? 0))
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  const run = async (command: LoadRun): Promise<GeneratorResult> => {
    const agent = agentFor(command.port)
    const t0 = performance.now() + command.warmupMs
    const t1 = t0 + command.measureMs
    const latencies = new Float64Array(Math.ceil(command.measureMs * 200))
    let count = 0
    let completed = 0
    let errors = 0
    let firstError: string | undefined
    // The CPU counters are read at the window's edges by timers, not by the workers.
    const read = (): [NodeJS.CpuUsage, Counters] => [
      process.cpuUsage(),
      {
        server: procCpuTicks(command.serverPid),
        reader: procCpuTicks(command.readerPid),
        bench: procCpuTicks(process.ppid),
        machine: machineTicks(),
      },
    ]
    let start: [NodeJS.CpuUsage, Counters] | undefined
    let end: [NodeJS.CpuUsage, Counters] | undefined
    const mark0 = setTimeout(() => {
      start = read()
    }, command.warmupMs)
    const mark1 = setTimeout(() => {
      end = read()
    }, command.warmupMs + command.measureMs)
    const worker = async () => {
      while (performance.now() < t1) {
        const body = bodies[next]
        next = (next + 1) % bodies.length
        const begin = performance.now()
        try {
          const status = await post(command.port, agent, body)
          if (status !== 200) throw new Error(`HTTP ${status}`)
          completed++
          const done = performance.now()
          if (begin >= t0 && done <= t1 && count < latencies.length) latencies[count++] = done - begin
        } catch (error) {
          errors++
          firstError ??= (error as Error).message
          if (errors > 100) break
        }
      }
    }
    await Promise.all(Array.from({length: init!.concurrency}, worker))
    clearTimeout(mark0)
    clearTimeout(mark1)
    start ??= read()
    end ??= read()
    const [[cpu0, c0], [cpu1, c1]] = [start, end]
    return {
      type: 'result',
      id: command.id,
      latencies: latencies.slice(0, count),
      completed,
      errors,
      ...(firstError ? {firstError} : {}),
      clientCpuMs: (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / 1000,
      counters: {
        server: c1.server - c0.server,
        reader: c1.reader - c0.reader,
        bench: c1.bench - c0.bench,
        machine: [0, 1, 2].map((i) => c1.machine[i] - c0.machine[i]) as [number, number, number],
      },
    }
  }
  process.on('message', (message: LoadInit | LoadRun | {type: 'exit'}) => {
    if (message.type === 'init') {
      init = message
      bodies = message.bodies.map((b) => Buffer.from(b))
      next = message.offset % bodies.length
      process.send!({type: 'ready'})
    } else if (message.type === 'run') {
      run(message).then(
        (result) => process.send!(result),
        (error: unknown) => process.send!({type: 'error', message: (error as Error).stack}),
      )
    } else if (message.type === 'exit') {
      for (const agent of agents.values()) agent.destroy()
      process.disconnect()
    }
  })
}

/** The results of all generators for one run, as one sample. */
function combine(results: GeneratorResult[], measureMs: number, clockTicks: number, cores: number): RunSample {
  const latencies = new Float64Array(results.reduce((n, r) => n + r.latencies.length, 0))
  let at = 0
  for (const r of results) {
    latencies.set(r.latencies, at)
    at += r.latencies.length
  }
  latencies.sort()
  const requests = latencies.length
  // The server, reader, bench and machine counters of the first generator (the windows of all
  // generators start and end together, within a millisecond or so).
  const {counters} = results[0]
  const pct = (jiffies: number) => ((jiffies * 1000) / clockTicks / measureMs) * 100
  const serverCpuMs = (counters.server * 1000) / clockTicks
  const [busy, steal, total] = counters.machine
  const machineBusyPct = total > 0 ? (busy / total) * 100 * cores : Number.NaN
  const clientCpuPct = (results.reduce((n, r) => n + r.clientCpuMs, 0) / measureMs) * 100
  return {
    requests,
    completed: results.reduce((n, r) => n + r.completed, 0),
    rps: requests / (measureMs / 1000),
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: requests > 0 ? latencies[requests - 1] : Number.NaN,
    serverCpuPct: pct(counters.server),
    serverCpuUs: requests > 0 ? (serverCpuMs * 1000) / requests : Number.NaN,
    clientCpuPct,
    readerCpuPct: pct(counters.reader),
    benchCpuPct: pct(counters.bench),
    machineBusyPct,
    stealPct: total > 0 ? (steal / total) * 100 * cores : Number.NaN,
    otherCpuPct: Math.max(
      0,
      machineBusyPct - pct(counters.server) - clientCpuPct - pct(counters.reader) - pct(counters.bench),
    ),
  }
}

// ---------------------------------------------------------------------------------------------
// The bench (bench process).

export interface ServerSummary {
  label: string
  command: string
  rps: Stats
  p50: Stats
  p90: Stats
  p99: Stats
  max: Stats
  serverCpuPct: Stats
  serverCpuUs: Stats
  clientCpuPct: Stats
  readerCpuPct: Stats
  machineBusyPct: Stats
}

export interface WebhookSample extends RunSample {
  server: 'backend' | 'bare'
  round: number
}

export interface WebhookReport {
  cpus: number
  concurrency: number
  clients: number
  runs: number
  warmupSeconds: number
  runWarmupSeconds: number
  measureSeconds: number
  pool: PoolShape
  probes: {reviews: number; allowed: number; denied: number; other: string}
  responseBytes: {backendMin: number; backendMean: number; backendMax: number; bare: number}
  backend: ServerSummary
  bare: ServerSummary
  samples: WebhookSample[]
  decisionsLogged: number
  backendResponses: number
  ratio: number
  p99: {goalMs: number; measuredMs: number; met: boolean}
  totalMs: number
  targets: Target[]
}

interface Server {
  label: 'backend' | 'bare'
  child: ChildProcess
  port: number
  stderr: string
  exited: Promise<void>
  /** stdout's reader (cat) and the file it writes, when the server logs per request. */
  reader?: {child: ChildProcess; exited: Promise<void>}
  logFile?: string
}

/**
 * Start a server and wait for its `listening` line. With `logFile`, its stdout goes through a pipe
 * to `cat > logFile`, as a container runtime's shim copies a container's stdout to its log file
 * (cat is a cheap reader: one read and one write per wake-up); without, the bench reads stdout.
 */
async function startServer(
  label: 'backend' | 'bare',
  command: string,
  args: string[],
  env: Record<string, string>,
  logFile?: string,
): Promise<Server> {
  let reader: ChildProcess | undefined
  if (logFile) {
    const out = openSync(logFile, 'w')
    try {
      reader = spawn('cat', [], {stdio: ['pipe', out, 'inherit']})
    } finally {
      closeSync(out)
    }
  }
  const child = spawn(command, args, {cwd: ROOT, env, stdio: ['ignore', reader ? reader.stdin! : 'pipe', 'pipe']})
  // The server holds the pipe's write end now; cat sees EOF when the server exits.
  reader?.stdin!.destroy()
  const server: Server = {
    label,
    child,
    port: 0,
    stderr: '',
    exited: new Promise<void>((done) => child.once('close', () => done())),
    logFile,
  }
  if (reader) server.reader = {child: reader, exited: new Promise<void>((done) => reader.once('close', () => done()))}
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (server.stderr.length < 16 * 1024) server.stderr += chunk
  })
  const listening = (line: string) => {
    if (line.includes('"event":"listening"')) server.port = (JSON.parse(line) as {port: number}).port
  }
  let partial = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop()!
    for (const line of lines) listening(line)
  })
  const deadline = performance.now() + 15_000
  while (server.port === 0) {
    const problem =
      child.exitCode !== null || child.signalCode !== null
        ? `exited with ${child.signalCode ?? child.exitCode} before listening`
        : performance.now() > deadline
          ? 'did not listen within 15 s'
          : undefined
    if (problem) {
      child.kill('SIGKILL')
      throw new BenchCrash(`${label} server ${problem}:\n${server.stderr.trim()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
    if (logFile) readFileSync(logFile, 'utf8').split('\n').forEach(listening)
  }
  return server
}

/** Lines of a JSON-lines log by their `event`. */
function countEvents(file: string): Record<string, number> {
  const events: Record<string, number> = {}
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue
    const at = line.indexOf('"event":"')
    const event = at >= 0 ? line.slice(at + 9, line.indexOf('"', at + 9)) : 'unknown'
    events[event] = (events[event] ?? 0) + 1
  }
  return events
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

interface Reply {
  status: number
  contentType: string
  body: string
}

function request(
  port: number,
  options: {method: string; path: string; body?: string; tls: https.AgentOptions},
): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method,
        path: options.path,
        agent: false,
        ...options.tls,
        headers:
          options.body === undefined
            ? {}
            : {'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body)},
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () =>
          resolve({status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body}),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

function positiveEnv(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`)
  return value
}

export async function runWebhookBench(options: {
  runs: number
  backend: string
  log: (line: string) => void
}): Promise<WebhookReport> {
  const {log} = options
  if (!existsSync(options.backend)) throw new BenchCrash(`${options.backend} is missing: run npm run build`)
  const started = performance.now()
  const concurrency = Math.round(positiveEnv('BENCH_WEBHOOK_CONCURRENCY', 16))
  const clients = Math.min(concurrency, Math.round(positiveEnv('BENCH_WEBHOOK_CLIENTS', 1)))
  const measureSeconds = positiveEnv('BENCH_WEBHOOK_SECONDS', 8)
  const warmupSeconds = 5
  const runWarmupSeconds = 1
  const dir = scratchDir('imgsec-bench-webhook-')
  const children: Array<{child: ChildProcess; exited: Promise<void>}> = []
  try {
    // Certificates: one CA for the serving certificate (127.0.0.1) and the client certificate, as
    // `whitelist enable` makes them for the API server.
    const ca = await createCertificateAuthority('imgsec-bench-ca')
    const serving = await issueCertificate(ca, {commonName: 'imgsec-webhook', usage: 'server', hosts: ['127.0.0.1']})
    const client = await issueCertificate(ca, {
      commonName: 'kube-apiserver',
      usage: 'client',
      organization: 'system:masters',
    })
    const files = {ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key')}
    writeFileSync(files.ca, ca.certPem)
    writeFileSync(files.cert, serving.certPem)
    writeFileSync(files.key, serving.keyPem, {mode: 0o600})
    const tls: https.AgentOptions = {ca: ca.certPem, cert: client.certPem, key: client.keyPem}
    const env = benchEnv(path.join(dir, 'home'))

    // BENCH_WEBHOOK_BACKEND_NODE_ARGS: node flags for the backend only, for profiling it in place
    // (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"; the profile is written when it stops at the end).
    const nodeArgs = (process.env.BENCH_WEBHOOK_BACKEND_NODE_ARGS ?? '').split(' ').filter(Boolean)
    const backendArgs = [
      ...nodeArgs,
      options.backend,
      '--cert',
      files.cert,
      '--key',
      files.key,
      '--client-ca',
      files.ca,
      '--address',
      '127.0.0.1',
      '--port',
      '0',
      '--allowed-registries',
      WEBHOOK_ALLOWED_REGISTRIES,
    ]
    const backend = await startServer('backend', process.execPath, backendArgs, env, path.join(dir, 'backend.log'))
    children.push(backend, backend.reader!)
    log(`webhook: backend listening on 127.0.0.1:${backend.port} (pid ${backend.child.pid})`)

    // Probes: every review of the pool once, each answer checked (a valid ImageReview, the expected
    // allowed value, a reason when denied); /healthz; and a POST without a client certificate.
    const {entries, shape: pool} = reviewPool()
    const responseSizes: number[] = []
    const responses: string[] = []
    let allowed = 0
    let denied = 0
    for (const [index, entry] of entries.entries()) {
      const reply = await request(backend.port, {method: 'POST', path: '/image_policy', body: entry.body, tls})
      let review:
        | {
            apiVersion?: string
            kind?: string
            status?: {allowed?: unknown; reason?: unknown; auditAnnotations?: Record<string, string>}
          }
        | undefined
      try {
        review = JSON.parse(reply.body) as typeof review
      } catch {}
      const ok =
        reply.status === 200 &&
        reply.contentType === 'application/json' &&
        review?.apiVersion === 'imagepolicy.k8s.io/v1alpha1' &&
        review.kind === 'ImageReview' &&
        review.status?.allowed === entry.expectedAllowed &&
        (entry.expectedAllowed || (typeof review.status.reason === 'string' && review.status.reason.length > 0)) &&
        review.status?.auditAnnotations?.decision === (entry.expectedAllowed ? 'allowed' : 'denied')
      if (!ok)
        throw new BenchCrash(
          `webhook: probe ${index}: expected allowed=${entry.expectedAllowed}, got HTTP ${reply.status} ${reply.body.slice(0, 500)}\nrequest: ${entry.body}`,
        )
      if (entry.expectedAllowed) allowed++
      else denied++
      responseSizes.push(Buffer.byteLength(reply.body))
      responses.push(reply.body)
    }
    const health = await request(backend.port, {method: 'GET', path: '/healthz', tls: {ca: ca.certPem}})
    if (health.status !== 200) throw new BenchCrash(`webhook: GET /healthz answered ${health.status}`)
    const anonymous = await request(backend.port, {
      method: 'POST',
      path: '/image_policy',
      body: entries[0].body,
      tls: {ca: ca.certPem},
    })
    if (anonymous.status !== 401)
      throw new BenchCrash(`webhook: a POST without a client certificate answered ${anonymous.status}, expected 401`)
    const meanResponse = responseSizes.reduce((a, b) => a + b, 0) / responseSizes.length
    // The bare server's constant answer: the backend's own answer whose size is closest to the mean.
    let constant = responses[0]
    for (const body of responses)
      if (Math.abs(Buffer.byteLength(body) - meanResponse) < Math.abs(Buffer.byteLength(constant) - meanResponse))
        constant = body
    log(
      `webhook: ${entries.length} probe reviews answered as expected (${allowed} allowed, ${denied} denied; responses ${Math.min(...responseSizes)}–${Math.max(...responseSizes)} B, mean ${meanResponse.toFixed(0)} B); /healthz 200; no client certificate → 401`,
    )

    const bareNodeArgs = (process.env.BENCH_WEBHOOK_BARE_NODE_ARGS ?? '').split(' ').filter(Boolean)
    const bare = await startServer(
      'bare',
      process.execPath,
      [...bareNodeArgs, '--input-type=module', '-e', BARE_SERVER],
      {...env, BENCH_BARE_CONFIG: JSON.stringify({...files, body: constant})},
    )
    children.push(bare)
    const bareReply = await request(bare.port, {method: 'POST', path: '/image_policy', body: entries[0].body, tls})
    if (bareReply.status !== 200 || bareReply.body !== constant)
      throw new BenchCrash(`webhook: the bare server answered ${bareReply.status} ${bareReply.body.slice(0, 200)}`)
    const bareAnonymous = await request(bare.port, {
      method: 'POST',
      path: '/image_policy',
      body: entries[0].body,
      tls: {ca: ca.certPem},
    })
    if (bareAnonymous.status !== 401)
      throw new BenchCrash(
        `webhook: the bare server answered ${bareAnonymous.status} without a client certificate, expected 401`,
      )
    log(
      `webhook: bare server listening on 127.0.0.1:${bare.port} (pid ${bare.child.pid}), constant answer ${Buffer.byteLength(constant)} B`,
    )

    // The load generators.
    const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout.trim()) || 100
    const generators = await Promise.all(
      Array.from({length: clients}, async (_, index) => {
        const child = spawn(process.execPath, ['--import', 'tsx', THIS_FILE, '--load-generator'], {
          cwd: ROOT,
          env,
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          serialization: 'advanced',
        })
        const exited = new Promise<void>((done) => child.once('close', () => done()))
        children.push({child, exited})
        const waiting = new Map<
          number | 'ready',
          {resolve: (value: GeneratorResult) => void; reject: (error: Error) => void}
        >()
        child.on('message', (message: GeneratorResult | {type: 'ready'} | {type: 'error'; message: string}) => {
          if (message.type === 'ready') waiting.get('ready')?.resolve(undefined as never)
          else if (message.type === 'result') waiting.get(message.id)?.resolve(message)
          else
            for (const pending of waiting.values())
              pending.reject(new BenchCrash(`webhook load generator: ${message.message}`))
        })
        void exited.then(() => {
          for (const pending of waiting.values()) pending.reject(new BenchCrash('webhook load generator exited'))
        })
        const ask = <T>(key: number | 'ready', message: object) =>
          new Promise<T>((resolve, reject) => {
            waiting.set(key, {resolve: resolve as (value: GeneratorResult) => void, reject})
            child.send(message)
          }).finally(() => waiting.delete(key))
        const share = Math.floor(concurrency / clients) + (index < concurrency % clients ? 1 : 0)
        await ask<void>('ready', {
          type: 'init',
          ca: ca.certPem,
          cert: client.certPem,
          key: client.keyPem,
          bodies: entries.map((e) => e.body),
          offset: Math.floor((index * entries.length) / clients),
          concurrency: share,
        } satisfies LoadInit)
        return {child, exited, ask}
      }),
    )

    let id = 0
    // Reviews the backend answered with a decision: the probes so far (the POST without a
    // certificate was rejected before any decision), then every answer of the load generators.
    let backendResponses = entries.length
    const servers = {backend, bare}
    const cores = os.cpus().length
    const runOne = async (which: 'backend' | 'bare', warmupMs: number, measureMs: number): Promise<RunSample> => {
      const server = servers[which]
      const command: LoadRun = {
        type: 'run',
        id: ++id,
        port: server.port,
        serverPid: server.child.pid!,
        readerPid: backend.reader!.child.pid!,
        warmupMs,
        measureMs,
      }
      const results = await Promise.all(generators.map((g) => g.ask<GeneratorResult>(command.id, command)))
      const errors = results.reduce((n, r) => n + r.errors, 0)
      if (errors > 0)
        throw new BenchCrash(
          `webhook: ${errors} failed requests to the ${which} server (first: ${results.find((r) => r.firstError)?.firstError})`,
        )
      const sample = combine(results, measureMs, clockTicks, cores)
      if (which === 'backend') backendResponses += sample.completed
      return sample
    }
    const line = (r: RunSample) =>
      `${rate(r.rps).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  max ${r.max.toFixed(1)} ms  server CPU ${r.serverCpuPct.toFixed(0)} % (${r.serverCpuUs.toFixed(0)} µs/req)  client ${r.clientCpuPct.toFixed(0)} %  log reader ${r.readerCpuPct.toFixed(0)} %  bench ${r.benchCpuPct.toFixed(0)} %  other ${r.otherCpuPct.toFixed(0)} %  all CPUs ${r.machineBusyPct.toFixed(0)} %${r.stealPct >= 1 ? ` (steal ${r.stealPct.toFixed(0)} %)` : ''}`
    log(
      `webhook: warm-up, ${warmupSeconds} s per server (not counted), ${concurrency} concurrent keep-alive connections from ${clients} load generator${clients === 1 ? '' : 's'}`,
    )
    for (const which of ['backend', 'bare'] as const) {
      const result = await runOne(which, 0, warmupSeconds * 1000)
      log(`webhook: warm-up ${which.padEnd(7)} ${line(result)}`)
    }
    const samples: WebhookSample[] = []
    for (let round = 0; round < options.runs; round++) {
      const order: Array<'backend' | 'bare'> = round % 2 === 0 ? ['backend', 'bare'] : ['bare', 'backend']
      for (const which of order) {
        const result = await runOne(which, runWarmupSeconds * 1000, measureSeconds * 1000)
        samples.push({...result, server: which, round: round + 1})
        log(`webhook: run ${round + 1}/${options.runs} ${which.padEnd(7)} ${line(result)}`)
      }
    }
    for (const g of generators) g.child.send({type: 'exit'})
    await Promise.all(generators.map((g) => g.exited))

    // The backend logged one decision (or break-glass) line per answered review.
    await stopChild(backend.child, backend.exited)
    await backend.reader!.exited
    await stopChild(bare.child, bare.exited)
    const events = countEvents(backend.logFile!)
    const decisionsLogged = (events.decision ?? 0) + (events['break-glass'] ?? 0)
    const unexpected = Object.entries(events).filter(
      ([event]) => !['decision', 'break-glass', 'listening', 'rejected', 'stopping'].includes(event),
    )
    if (unexpected.length > 0 || (events.rejected ?? 0) !== 1)
      throw new BenchCrash(`webhook: unexpected backend log events ${JSON.stringify(events)}`)
    if (decisionsLogged !== backendResponses)
      throw new BenchCrash(
        `webhook: the backend logged ${decisionsLogged} decisions for ${backendResponses} answered reviews`,
      )

    const summarize = (which: 'backend' | 'bare', label: string, command: string): ServerSummary => {
      const list = samples.filter((s) => s.server === which)
      const of = (key: keyof RunSample) => stats(list.map((s) => s[key]))
      return {
        label,
        command,
        rps: of('rps'),
        p50: of('p50'),
        p90: of('p90'),
        p99: of('p99'),
        max: of('max'),
        serverCpuPct: of('serverCpuPct'),
        serverCpuUs: of('serverCpuUs'),
        clientCpuPct: of('clientCpuPct'),
        readerCpuPct: of('readerCpuPct'),
        machineBusyPct: of('machineBusyPct'),
      }
    }
    const backendSummary = summarize(
      'backend',
      '(a) backend',
      `node dist/imgsec-webhook.mjs --cert tls.crt --key tls.key --client-ca ca.crt --address 127.0.0.1 --port 0 --allowed-registries ${WEBHOOK_ALLOWED_REGISTRIES}`,
    )
    const bareSummary = summarize(
      'bare',
      '(b) bare Node HTTPS',
      'node --input-type=module -e BARE_SERVER (bench/webhook.ts)',
    )
    const throughputRatio = backendSummary.rps.median / bareSummary.rps.median
    const p99 = {
      goalMs: WEBHOOK_TARGETS.p99GoalMs,
      measuredMs: backendSummary.p99.median,
      met: backendSummary.p99.median < WEBHOOK_TARGETS.p99GoalMs,
    }
    return {
      cpus: os.cpus().length,
      concurrency,
      clients,
      runs: options.runs,
      warmupSeconds,
      runWarmupSeconds,
      measureSeconds,
      pool,
      probes: {
        reviews: entries.length,
        allowed,
        denied,
        other: 'GET /healthz → 200; POST without a client certificate → 401',
      },
      responseBytes: {
        backendMin: Math.min(...responseSizes),
        backendMean: meanResponse,
        backendMax: Math.max(...responseSizes),
        bare: Buffer.byteLength(constant),
      },
      backend: backendSummary,
      bare: bareSummary,
      samples,
      decisionsLogged,
      backendResponses,
      ratio: throughputRatio,
      p99,
      totalMs: performance.now() - started,
      targets: [
        {
          name: `webhook backend throughput ≥ ${WEBHOOK_TARGETS.throughputRatio} × bare Node HTTPS, loopback keep-alive (medians)`,
          measured: `${ratio(throughputRatio)} (${rate(backendSummary.rps.median)} / ${rate(bareSummary.rps.median)} req/s)`,
          limit: `≥ ${ratio(WEBHOOK_TARGETS.throughputRatio)}`,
          pass: throughputRatio >= WEBHOOK_TARGETS.throughputRatio,
        },
        {
          name: `webhook backend p99 latency ≤ ${WEBHOOK_TARGETS.p99GoalMs} ms at 16 in flight (median of the runs' p99)`,
          measured: msx(p99.measuredMs),
          limit: `≤ ${WEBHOOK_TARGETS.p99GoalMs} ms`,
          pass: p99.measuredMs <= WEBHOOK_TARGETS.p99GoalMs,
        },
      ],
    }
  } finally {
    for (const {child, exited} of children.reverse()) await stopChild(child, exited)
    rmSync(dir, {recursive: true, force: true})
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering (docs/benchmarks.md section and the printed summary).

const rate = (value: number) => Math.round(value).toLocaleString('en-US')
const msx = (value: number) => `${value.toFixed(2)} ms`
const pctx = (value: number) => `${value.toFixed(0)} %`

function mdTable(rows: string[][]): string {
  const [head, ...body] = rows
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
}

/** Rows for the printed summary (plain table). */
export function webhookSummaryRows(report: WebhookReport): string[][] {
  return [
    [
      `webhook (${report.concurrency} conns, ${report.runs} × ${report.measureSeconds} s)`,
      'req/s median',
      'min',
      'max',
      'p50',
      'p99',
      'server CPU',
      'µs/req',
      'client CPU',
    ],
    ...[report.backend, report.bare].map((s) => [
      s.label,
      rate(s.rps.median),
      rate(s.rps.min),
      rate(s.rps.max),
      msx(s.p50.median),
      msx(s.p99.median),
      pctx(s.serverCpuPct.median),
      s.serverCpuUs.median.toFixed(0),
      pctx(s.clientCpuPct.median),
    ]),
  ]
}

export function renderWebhookSection(
  report: WebhookReport,
  heading = '## 3. Webhook backend vs a bare Node HTTPS server',
): string {
  const r = report
  const pool = r.pool
  const cpuRatio = r.bare.serverCpuUs.median / r.backend.serverCpuUs.median
  const clientBound = r.bare.clientCpuPct.median >= 90 * r.clients
  return `${heading}

### Method

- Certificates made in the bench process with the project's \`src/lib/whitelist/certificates.ts\`: a CA, a serving
  certificate for \`127.0.0.1\` (ECDSA P-256) and a client certificate from the same CA (CN \`kube-apiserver\`).
- Separate processes, none sharing an event loop:
  - (a) the backend as the static pod runs it: \`${r.backend.command}\`
    (the bench's private copy of the fresh build; default policy otherwise: \`:latest\` and untagged images
    refused, \`kube-system\` exempt, break-glass honoured). It logs one JSON line per decision to stdout,
    synchronously; its stdout is a pipe read by \`cat > FILE\`, as a container runtime's shim copies a
    container's stdout to its log file (\`cat\` is about the cheapest reader there is).
  - (b) a bare \`https.createServer\` (\`node --input-type=module -e\`, the code is in \`bench/webhook.ts\`)
    with the same certificate and key, the same client-certificate requirement (\`requestCert\`, checked per
    request, 401 otherwise), the same \`keepAliveTimeout\` (65 s); it drains each POST body and answers a
    constant ImageReview of ${r.responseBytes.bare} bytes (the backend's own answer closest to its mean answer size;
    the backend's answers to the pool are ${r.responseBytes.backendMin}–${r.responseBytes.backendMax} bytes, mean ${r.responseBytes.backendMean.toFixed(0)}). It logs nothing.
  - ${r.clients === 1 ? 'the load generator' : `${r.clients} load generators`}: \`node --import tsx bench/webhook.ts --load-generator\`, driven over IPC, with
    \`https.Agent({keepAlive: true, maxSockets})\` per server presenting the client certificate and ${r.concurrency}
    closed-loop workers in all (each POSTs the next review as soon as its previous answer has arrived), so
    ${r.concurrency} requests are always in flight on ${r.concurrency} keep-alive connections. Only loopback traffic.
- Requests: a fixed pool of ${pool.reviews} ImageReviews, cycled, encoded as kube-apiserver encodes them (\`metadata.creationTimestamp:
  null\`, \`status.allowed: false\`), ${Math.round(pool.requestBytes.mean)} bytes on average (${pool.requestBytes.min}–${pool.requestBytes.max}): ${Object.entries(
    pool.containers,
  )
    .map(([n, c]) => `${c} with ${n} container${n === '1' ? '' : 's'}`)
    .join(', ')};
  images from Docker Hub (short and full names) and registry.k8s.io, some pinned by digest, and in
  ${pool.withRefusedImage} reviews one refused image (ghcr.io, quay.io, a private registry, \`:latest\`, untagged), ${pool.breakGlass}
  of them with the break-glass annotation; ${pool.kubeSystem} reviews are in \`kube-system\` (exempt); some carry another
  forwarded \`*.image-policy.k8s.io/\` annotation. Expected: ${pool.expectedAllowed} allowed, ${pool.expectedDenied} denied.
- Checks before measuring: each of the ${r.probes.reviews} reviews sent once to (a); every answer must be HTTP 200
  \`application/json\`, an \`imagepolicy.k8s.io/v1alpha1\` ImageReview with the expected \`status.allowed\`, a
  reason when denied and \`auditAnnotations.decision\`; ${r.probes.other} (on both servers).
  During the runs any answer other than 200, or any connection error, aborts the bench. At the end the
  backend's log must hold exactly one decision line per review it answered (${rate(r.decisionsLogged)}).
- Runs: ${r.warmupSeconds} s warm-up per server first (not counted), then ${r.runs} round${r.runs === 1 ? '' : 's'} of (a) and (b), interleaved
  and alternating which goes first; each run is ${r.runWarmupSeconds} s unmeasured, then ${r.measureSeconds} s measured. Throughput =
  answers completed in the measured window / its length; latency = from \`https.request()\` to the end of
  the response, in the load generator, for every request of the window. Medians over the runs.
- CPU over each window, from \`/proc\`: user + system time of the server process (all threads), of the log
  reader and of the whole machine (\`/proc/stat\`, ${r.cpus * 100} % = all ${r.cpus} CPUs busy); the load generator's own
  \`process.cpuUsage()\`. "Other processes" is the rest of the machine's busy time (the bench process, which
  only waits, and whatever else runs): a run with much of it was disturbed.
- **This machine has ${r.cpus} cores, so the load generator and the server compete for them** (and, for (a), the
  log reader), the same way for (a) and (b). A Node HTTPS client spends about as much CPU per request as a
  Node HTTPS server, so the load generator needs a core of its own at these rates.${
    clientBound
      ? ` Here it is what bounds
  (b): at ${r.bare.clientCpuPct.median.toFixed(0)} % of a core it cannot send faster, while (b) itself is busy only ${r.bare.serverCpuPct.median.toFixed(0)} % of the time. The ratio
  (a)/(b) is then better than the ratio of server costs: "server CPU per request" is the server-bound
  comparison, (b)/(a) = ${ratio(cpuRatio)}.`
      : ''
  }
- Latencies are with ${r.concurrency} requests always in flight (a saturated server), so they are mostly queueing:
  p50 ≈ ${r.concurrency} / throughput. An API server with fewer concurrent reviews in flight sees lower latencies.

### Numbers

${mdTable([
  [
    'Server',
    'Runs',
    'Throughput median (min–max)',
    'p50',
    'p90',
    'p99 (min–max)',
    'Max (worst run)',
    'Server CPU',
    'Server CPU per request',
    'Load generator CPU',
    'Log reader CPU',
    'All CPUs',
  ],
  ...[r.backend, r.bare].map((s) => [
    s.label,
    String(s.rps.runs),
    `${rate(s.rps.median)} req/s (${rate(s.rps.min)}–${rate(s.rps.max)})`,
    msx(s.p50.median),
    msx(s.p90.median),
    `${msx(s.p99.median)} (${msx(s.p99.min)}–${msx(s.p99.max)})`,
    msx(s.max.max),
    pctx(s.serverCpuPct.median),
    `${s.serverCpuUs.median.toFixed(0)} µs`,
    pctx(s.clientCpuPct.median),
    pctx(s.readerCpuPct.median),
    pctx(s.machineBusyPct.median),
  ]),
])}

Latency and CPU columns are medians over the runs (CPU in % of one core). Throughput ratio (a)/(b):
**${ratio(r.ratio)}** (target ≥ ${ratio(WEBHOOK_TARGETS.throughputRatio)}: ${r.ratio >= WEBHOOK_TARGETS.throughputRatio ? 'PASS' : 'MISS'}). Backend p99: **${msx(r.p99.measuredMs)}** (goal < ${r.p99.goalMs} ms: ${r.p99.met ? 'met' : 'not met'}).
Server CPU per request, (b)/(a): ${ratio(cpuRatio)}.

Every run, in the order run:

${mdTable([
  [
    'Round',
    'Server',
    'Answers in window',
    'Throughput',
    'p50',
    'p90',
    'p99',
    'Max',
    'Server CPU',
    'µs/request',
    'Load generator',
    'Log reader',
    'Other processes',
    'All CPUs',
  ],
  ...r.samples.map((s) => [
    String(s.round),
    s.server === 'backend' ? '(a) backend' : '(b) bare',
    rate(s.requests),
    `${rate(s.rps)} req/s`,
    msx(s.p50),
    msx(s.p90),
    msx(s.p99),
    msx(s.max),
    pctx(s.serverCpuPct),
    s.serverCpuUs.toFixed(0),
    pctx(s.clientCpuPct),
    pctx(s.readerCpuPct),
    pctx(s.otherCpuPct + s.benchCpuPct),
    `${pctx(s.machineBusyPct)}${s.stealPct >= 1 ? ` (steal ${pctx(s.stealPct)})` : ''}`,
  ]),
])}

This benchmark took ${(r.totalMs / 1000).toFixed(0)} s (certificates, probes, warm-up and runs).`
}

// ---------------------------------------------------------------------------------------------

if (process.argv[1] && path.resolve(process.argv[1]) === THIS_FILE && process.argv.includes('--load-generator')) {
  if (!process.send) {
    process.stderr.write('bench/webhook.ts --load-generator is driven over IPC by bench/run.ts\n')
    process.exit(2)
  }
  void loadGenerator()
}

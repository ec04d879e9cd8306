// Start-up to the first API call: how long a command that talks to a cluster takes from its spawn to
// its first request arriving at an API server, against the whole run of `node -e 0` (issue 13:
// ≤ 1.5×), and against a bare Node client that makes the same first request and nothing else
// (bench/https-client-alone.mjs: the floor any Node program has, TLS included). The API server is a bare HTTPS server in this process that notes when a request
// arrives, answers 500 and lets the command end; the time is taken on this process's clock at
// spawn and at arrival. Each command runs through bin/run.js (an npm install) and, when
// BENCH_RELEASE=1 or run alone, through the release's launcher and bundle (`npm run package`
// output, built here into a scratch directory: krew's archive for platforms other than
// linux-amd64) and its standalone executable (krew's linux-amd64 archive).
// Run alone: node --import tsx bench/first-call.ts
import {execFileSync, spawn} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:https'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {createCertificateAuthority, issueCertificate} from '../src/lib/whitelist/certificates.js'
import {benchEnv, ROOT, scratchDir, type Stats, stats, type Target} from './support/measure.js'

export const FIRST_CALL_LIMIT = 1.5

/** Commands whose first network request goes to the API server (create-regcred skips its registry check). */
const COMMANDS: Array<{label: string; args: (kubeconfig: string) => string[]}> = [
  {label: 'audit images -A', args: (kc) => ['audit', 'images', '-A', '--kubeconfig', kc]},
  {
    label: 'create-regcred',
    args: (kc) => [
      'create-regcred',
      'pull',
      '--docker-server',
      'registry.example.com',
      '--docker-username',
      'u',
      '--docker-password',
      'p',
      '--no-verify',
      '--kubeconfig',
      kc,
    ],
  },
  {label: 'whitelist status --mode vap', args: (kc) => ['whitelist', 'status', '--mode', 'vap', '--kubeconfig', kc]},
  {
    label: 'whitelist add-registry --mode vap',
    args: (kc) => ['whitelist', 'add-registry', 'quay.io', '--mode', 'vap', '--kubeconfig', kc],
  },
]

export interface FirstCallRow {
  install: string
  label: string
  stats: Stats
  ratio: number
  /** Against the bare client: what the command adds to what any Node program pays for that request. */
  clientRatio: number
  pass: boolean
}

export interface FirstCallReport {
  runs: number
  node: Stats
  /** bench/https-client-alone.mjs: node, yaml, the kubeconfig, one HTTPS request, nothing else. */
  bareClient: Stats
  rows: FirstCallRow[]
  installs: string[]
}

/** The release as krew unpacks it, built from this checkout (scratch output; plugin.yaml left alone). */
function buildRelease(dir: string): Array<{install: string; command: string[]}> {
  mkdirSync(dir, {recursive: true})
  const plugin = path.join(dir, 'plugin.yaml')
  copyFileSync(path.join(ROOT, 'plugin.yaml'), plugin)
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'package.mjs'), '--out', dir, '--plugin', plugin], {
    stdio: 'ignore',
  })
  const installs: Array<{install: string; command: string[]}> = []
  const unpack = (archive: string, into: string) => {
    mkdirSync(into, {recursive: true})
    execFileSync('tar', ['-xzf', path.join(dir, archive), '-C', into])
  }
  const {version} = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {version: string}
  unpack(`kubectl-imgsec-v${version}.tar.gz`, path.join(dir, 'bundle'))
  installs.push({
    install: 'krew, node on PATH (launcher + bundle)',
    command: [path.join(dir, 'bundle', 'kubectl-imgsec')],
  })
  const sea = `kubectl-imgsec-v${version}-linux-amd64.tar.gz`
  if (existsSync(path.join(dir, sea))) {
    unpack(sea, path.join(dir, 'sea'))
    installs.push({
      install: 'krew linux-amd64 (standalone executable)',
      command: [path.join(dir, 'sea', 'kubectl-imgsec')],
    })
  }
  return installs
}

export async function runFirstCallBench(options: {
  runs: number
  release: boolean
  log: (line: string) => void
}): Promise<FirstCallReport> {
  const dir = scratchDir('imgsec-bench-first-call-')
  const ca = await createCertificateAuthority('imgsec-bench-first-call')
  const serving = await issueCertificate(ca, {commonName: 'kube-apiserver', usage: 'server', hosts: ['127.0.0.1']})
  // The spawn being timed waits for a request with its own token: a request of an earlier spawn
  // that was on its way when that one was stopped does not count.
  let waiting: {token: string; arrived: (at: bigint) => void} | undefined
  const server = createServer({cert: serving.certPem, key: serving.keyPem}, (req, res) => {
    const at = process.hrtime.bigint()
    if (waiting && req.headers.authorization === `Bearer ${waiting.token}`) waiting.arrived(at)
    req.resume()
    res.writeHead(500, {'content-type': 'application/json'})
    res.end('{"kind":"Status","apiVersion":"v1","status":"Failure","message":"bench","code":500}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  const caFile = path.join(dir, 'ca.crt')
  writeFileSync(caFile, ca.certPem)
  let spawns = 0
  /** A kubeconfig of its own for each spawn, with a token that names it. */
  const kubeconfigFor = (token: string) => {
    const file = path.join(dir, `kubeconfig-${token}`)
    writeFileSync(
      file,
      `apiVersion: v1
kind: Config
clusters: [{name: bench, cluster: {server: "https://127.0.0.1:${port}", certificate-authority: ${JSON.stringify(caFile)}}}]
users: [{name: bench, user: {token: ${token}}}]
contexts: [{name: bench, context: {cluster: bench, user: bench, namespace: default}}]
current-context: bench
`,
      {mode: 0o600},
    )
    return file
  }
  const env = benchEnv(path.join(dir, 'home'))
  const installs = [{install: 'npm (bin/run.js)', command: [process.execPath, path.join(ROOT, 'bin', 'run.js')]}]
  if (options.release) {
    options.log('first call: building the release (npm run package into a scratch directory)')
    installs.push(...buildRelease(path.join(dir, 'release')))
  }

  // One spawn: until its first request arrives (then it is stopped, and waited for), or until it exits.
  const once = (command: string[] | ((kubeconfig: string) => string[]), untilExit: boolean) =>
    new Promise<number>((resolve, reject) => {
      const token = `bench-${++spawns}`
      const argv = typeof command === 'function' ? command(kubeconfigFor(token)) : command
      let elapsed: number | undefined
      const started = process.hrtime.bigint()
      const child = spawn(argv[0], argv.slice(1), {env, stdio: 'ignore'})
      if (!untilExit)
        waiting = {
          token,
          arrived(at) {
            waiting = undefined
            elapsed = Number(at - started) / 1e6
            child.kill('SIGKILL')
          },
        }
      child.on('error', reject)
      child.on('exit', (code) => {
        if (untilExit) resolve(Number(process.hrtime.bigint() - started) / 1e6)
        else if (elapsed !== undefined) resolve(elapsed)
        else {
          waiting = undefined
          reject(new Error(`${argv.join(' ')} exited ${code} before any request reached the API server`))
        }
      })
    })

  const cases = [
    {install: '', label: 'node -e 0', command: [process.execPath, '-e', '0'], untilExit: true},
    {
      install: '',
      label: 'bare client',
      command: (kubeconfig: string) => [
        process.execPath,
        path.join(ROOT, 'bench', 'https-client-alone.mjs'),
        kubeconfig,
      ],
      untilExit: false,
    },
    ...installs.flatMap(({install, command}) =>
      COMMANDS.map((c) => ({
        install,
        label: c.label,
        command: (kubeconfig: string) => [...command, ...c.args(kubeconfig)],
        untilExit: false,
      })),
    ),
  ]
  const times = new Map(cases.map((c) => [c, [] as number[]]))
  try {
    // SEA: its first run writes the bundle into its cache directory (HOME is the scratch one); warm up.
    for (const c of cases) await once(c.command, c.untilExit)
    for (let run = 0; run < options.runs; run++) {
      // Interleaved, rotating the order, so that drift in machine load hits every command alike.
      for (let i = 0; i < cases.length; i++) {
        const c = cases[(run + i) % cases.length]
        times.get(c)!.push(await once(c.command, c.untilExit))
      }
    }
  } finally {
    server.close()
  }
  const node = stats(times.get(cases[0])!)
  const bareClient = stats(times.get(cases[1])!)
  options.log(
    `first call: bare client (node, yaml, one HTTPS request): median ${bareClient.median.toFixed(0)} ms (${(bareClient.median / node.median).toFixed(2)}× node -e 0)`,
  )
  const rows = cases.slice(2).map((c) => {
    const s = stats(times.get(c)!)
    const ratio = s.median / node.median
    const clientRatio = s.median / bareClient.median
    options.log(
      `first call: ${c.install} ${c.label}: median ${s.median.toFixed(0)} ms (${ratio.toFixed(2)}× node -e 0, ${clientRatio.toFixed(2)}× the bare client)`,
    )
    return {install: c.install, label: c.label, stats: s, ratio, clientRatio, pass: ratio <= FIRST_CALL_LIMIT}
  })
  return {runs: options.runs, node, bareClient, rows, installs: installs.map((i) => i.install)}
}

export function firstCallTargets(report: FirstCallReport): Target[] {
  const floor = report.bareClient.median / report.node.median
  return [
    {
      name: `bare Node HTTPS client (bench/https-client-alone.mjs: yaml, the kubeconfig, one request): spawn to its request ≤ ${FIRST_CALL_LIMIT} × node -e 0 — can any Node program meet the target?`,
      limit: `≤ ${FIRST_CALL_LIMIT.toFixed(2)}×`,
      measured: `${floor.toFixed(2)}× (${report.bareClient.median.toFixed(0)} ms / ${report.node.median.toFixed(0)} ms)`,
      pass: floor <= FIRST_CALL_LIMIT,
    },
    ...report.rows.map((row) => ({
      name: `${row.label} (${row.install}): spawn to its first API request ≤ ${FIRST_CALL_LIMIT} × node -e 0 (medians)`,
      limit: `≤ ${FIRST_CALL_LIMIT.toFixed(2)}×`,
      measured: `${row.ratio.toFixed(2)}× (${row.stats.median.toFixed(0)} ms / ${report.node.median.toFixed(0)} ms); ${row.clientRatio.toFixed(2)}× the bare client`,
      pass: row.pass,
    })),
  ]
}

export function renderFirstCallSection(report: FirstCallReport): string {
  return [
    '### Start-up to the first API call',
    '',
    `Each command ${report.runs} times after a warm-up, interleaved with \`node -e 0\` in rotating order (bench/first-call.ts). The API server is a bare HTTPS server in the bench process that notes when the first request arrives (the command is then stopped); \`node -e 0\` is timed to its exit. Installs: ${report.installs.join('; ')}.`,
    '',
    '| Install | Command | Median | Min | Max | vs node -e 0 | vs the bare client |',
    '|---|---|---|---|---|---|---|',
    `| | \`node -e 0\` (whole run) | ${report.node.median.toFixed(0)} ms | ${report.node.min.toFixed(0)} ms | ${report.node.max.toFixed(0)} ms | 1.00× | |`,
    `| | bare client: \`node bench/https-client-alone.mjs\` (yaml, the kubeconfig, one HTTPS request) | ${report.bareClient.median.toFixed(0)} ms | ${report.bareClient.min.toFixed(0)} ms | ${report.bareClient.max.toFixed(0)} ms | ${(report.bareClient.median / report.node.median).toFixed(2)}× | 1.00× |`,
    ...report.rows.map(
      (r) =>
        `| ${r.install} | \`${r.label}\` | ${r.stats.median.toFixed(0)} ms | ${r.stats.min.toFixed(0)} ms | ${r.stats.max.toFixed(0)} ms | ${r.ratio.toFixed(2)}× | ${r.clientRatio.toFixed(2)}× |`,
    ),
  ].join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const report = await runFirstCallBench({
    runs: Number(process.env.BENCH_FIRST_CALL_RUNS ?? 10),
    release: process.env.BENCH_RELEASE !== '0',
    log: (line) => process.stderr.write(`[bench] ${line}\n`),
  })
  process.stdout.write(`${renderFirstCallSection(report)}\n`)
}

// Timing helpers for the benchmarks. Child processes are spawned asynchronously: the fake
// Kubernetes API server lives in the bench process's event loop and must keep serving while a
// measured command runs (spawnSync would deadlock it).
import {spawn, spawnSync} from 'node:child_process'
import {closeSync, cpSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const MAXRSS_HELPER = path.join(ROOT, 'bench', 'support', 'maxrss.cjs')

export interface RunResult {
  /** Wall time from spawn() to the child's exit, in milliseconds. */
  ms: number
  /** Peak RSS in KiB, when measured (GNU time or the maxrss helper). */
  maxRssKiB?: number
  /** CPU time (user + system) in milliseconds, when measured with the RSS. */
  cpuMs?: number
  stderr: string
}

export class BenchCrash extends Error {}

/** A scratch directory removed at the end of the bench. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix))
}

/**
 * The environment every measured command gets: no NODE_OPTIONS (the bench itself runs under
 * tsx; the measured commands must not), a private HOME (no developer kubeconfig or kubectl cache
 * leaks in), no colour.
 */
export function benchEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    NO_COLOR: '1',
    NODE_ENV: 'production',
    ...extra,
  }
}

/**
 * Run one command with stdout to /dev/null (or to `stdoutFile`) and return its wall time, from
 * spawn() to exit as seen by the bench process. A non-zero exit is a crash (every measured
 * command is expected to exit 0), so it throws with the tail of the command's stderr.
 */
export async function timeCommand(
  command: string,
  args: string[],
  options: {env: Record<string, string>; cwd?: string; stdoutFile?: string},
): Promise<RunResult> {
  const out = openSync(options.stdoutFile ?? '/dev/null', 'w')
  try {
    const started = process.hrtime.bigint()
    const {code, signal, stderr} = await new Promise<{
      code: number | null
      signal: NodeJS.Signals | null
      stderr: string
    }>((resolve, reject) => {
      const child = spawn(command, args, {cwd: options.cwd ?? ROOT, env: options.env, stdio: ['ignore', out, 'pipe']})
      let err = ''
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        if (err.length < 64 * 1024) err += chunk
      })
      child.on('error', reject)
      child.on('close', (exitCode, exitSignal) => resolve({code: exitCode, signal: exitSignal, stderr: err}))
    })
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6
    if (code !== 0) {
      throw new BenchCrash(
        `${command} ${args.join(' ')} exited with ${signal ?? code}:\n${stderr.trim().split('\n').slice(-20).join('\n')}`,
      )
    }
    return {ms: elapsed, stderr}
  } finally {
    closeSync(out)
  }
}

/** Is /usr/bin/time GNU time (the one with -f %M)? */
export function hasGnuTime(): boolean {
  if (process.env.BENCH_NO_GNU_TIME) return false
  const result = spawnSync('/usr/bin/time', ['--version'], {encoding: 'utf8'})
  return result.status === 0 && /GNU/.test(`${result.stdout}${result.stderr}`)
}

/**
 * How a command's peak RSS is read:
 * - `gnu-time`: the command runs under `/usr/bin/time -f '%M %U %S' -o FILE` (getrusage ru_maxrss of
 *   the child, KiB, and its CPU time); costs one fork/exec of the tiny wrapper, the same for every
 *   command measured so.
 * - `helper`: node commands only; `--require bench/support/maxrss.cjs` writes
 *   process.resourceUsage().maxRSS at exit.
 * - `none`.
 */
export type RssMode = 'gnu-time' | 'helper' | 'none'

export async function measureCommand(
  command: string,
  args: string[],
  options: {env: Record<string, string>; cwd?: string; stdoutFile?: string; rss: RssMode},
): Promise<RunResult> {
  if (options.rss === 'none') return timeCommand(command, args, options)
  const dir = scratchDir('imgsec-bench-rss-')
  const file = path.join(dir, 'maxrss')
  try {
    const result =
      options.rss === 'gnu-time'
        ? await timeCommand('/usr/bin/time', ['-f', '%M %U %S', '-o', file, command, ...args], options)
        : await timeCommand(command, ['--require', MAXRSS_HELPER, ...args], {
            ...options,
            env: {...options.env, BENCH_MAXRSS_FILE: file},
          })
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      throw new BenchCrash(`${command} ${args.join(' ')}: no peak RSS was recorded (${options.rss})`)
    }
    // Both write "KiB user-seconds system-seconds" as their last line.
    const [kib, user, system] = text.trim().split('\n').at(-1)!.split(' ').map(Number)
    if (!Number.isFinite(kib) || kib <= 0)
      throw new BenchCrash(`${command}: unreadable peak RSS ${JSON.stringify(text)}`)
    return {
      ...result,
      maxRssKiB: kib,
      ...(Number.isFinite(user) && Number.isFinite(system) ? {cpuMs: (user + system) * 1000} : {}),
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/**
 * A private copy of the built CLI (bin/, dist/, package.json, oclif.manifest.json, with
 * node_modules symlinked), so that a rebuild in the working tree while the bench runs (npm test
 * does `rm -rf dist`) cannot break or change the command being measured. The copy runs exactly
 * the same files as `node bin/run.js` in the project.
 */
export function snapshotCli(): {cli: string; root: string; dispose(): void} {
  const root = scratchDir('imgsec-bench-cli-')
  for (const entry of ['bin', 'dist', 'package.json', 'oclif.manifest.json']) {
    cpSync(path.join(ROOT, entry), path.join(root, entry), {recursive: true})
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir')
  for (const required of [
    'bin/run.js',
    'dist/commands/audit/images.js',
    'dist/lib/audit/audit-run.js',
    'dist/lib/audit/audit-cluster.js',
    'dist/lib/audit/reporters.js',
  ]) {
    if (!existsSync(path.join(root, required)))
      throw new BenchCrash(`the build is incomplete (${required} missing): run npm run build again`)
  }
  return {cli: path.join(root, 'bin', 'run.js'), root, dispose: () => rmSync(root, {recursive: true, force: true})}
}

export interface Stats {
  runs: number
  median: number
  min: number
  max: number
}

export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return {runs: sorted.length, median, min: sorted[0], max: sorted.at(-1)!}
}

export interface Target {
  name: string
  measured: string
  limit: string
  pass: boolean
}

export const ms = (value: number) => `${value.toFixed(0)} ms`
export const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`
export const ratio = (value: number) => `${value.toFixed(2)}×`

export function machineInfo(): {
  node: string
  cpus: number
  cpuModel: string
  memory: string
  os: string
  date: string
  loadavg: string
} {
  const cpus = os.cpus()
  return {
    node: process.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    loadavg: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  }
}

/** One CLI's samples in an interleaved series: peak RSS and wall time of each run, per format. */
export interface CliSeries {
  cli: string
  format: string
  rss: Stats
  wall: Stats
  rssRuns: number[]
}

/**
 * `runs` rounds of every format × every CLI (`node CLI ...args(format)`, peak RSS by GNU time),
 * rotating which CLI goes first in each round, so that load on the machine hits them alike.
 * `log` hears of each run as it ends.
 */
export async function measureInterleaved(options: {
  runs: number
  formats: string[]
  clis: Array<{label: string; cli: string}>
  env: Record<string, string>
  args: (format: string) => string[]
  log: (label: string, format: string, result: RunResult) => void
}): Promise<CliSeries[]> {
  const samples = new Map<string, {rss: number[]; wall: number[]}>()
  for (let run = 0; run < options.runs; run++) {
    for (const format of options.formats) {
      const order = options.clis.map((_, i) => options.clis[(i + run) % options.clis.length])
      for (const {label, cli} of order) {
        const result = await measureCommand(process.execPath, [cli, ...options.args(format)], {
          env: options.env,
          rss: 'gnu-time',
        })
        const key = `${label}\u0000${format}`
        const entry = samples.get(key) ?? {rss: [], wall: []}
        entry.rss.push(result.maxRssKiB ?? 0)
        entry.wall.push(result.ms)
        samples.set(key, entry)
        options.log(label, format, result)
      }
    }
  }
  return [...samples].map(([key, {rss, wall}]) => {
    const [cli, format] = key.split('\u0000')
    return {cli, format, rss: stats(rss), wall: stats(wall), rssRuns: rss}
  })
}

/** A series point as a table cell: RSS median (each run); wall median. */
export const seriesCell = (point: Pick<CliSeries, 'rss' | 'rssRuns' | 'wall'>): string =>
  `${mib(point.rss.median)} (${point.rssRuns.map((k) => (k / 1024).toFixed(0)).join(', ')}); ${ms(point.wall.median)}`

// Fast-start benchmark: `kubectl-imgsec --version`, `--help` and commands' `--help` median wall
// time against `node -e 0`, side by side in one run (targets ≤ 2×, commands ≤ 1.5×); and
// `kubectl imgsec --version` through kubectl's plugin dispatch against `kubectl version --client`
// (≤ 2×). Run: node --import tsx bench/startup.ts
import {spawnSync} from 'node:child_process'
import {mkdtempSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {benchEnv} from './support/measure.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 20)

interface Sample {
  label: string
  /** node (the default) or kubectl. */
  command?: string
  args: string[]
  /** The row it is compared with (default: node -e 0). */
  base?: string
  times: number[]
  /** Target: median ≤ limit × node -e 0 (issue 13: every command's --help ≤ 1.5×). */
  limit: number
}

const KUBECTL = '/usr/bin/kubectl'
// kubectl finds the plugin on PATH, as krew installs it: a kubectl-imgsec that is bin/run.js.
const PLUGIN_DIR = mkdtempSync(path.join(tmpdir(), 'imgsec-bench-plugin-'))
symlinkSync(path.join(ROOT, 'bin', 'run.js'), path.join(PLUGIN_DIR, 'kubectl-imgsec'))

function time(args: string[], command = process.execPath): number {
  const start = process.hrtime.bigint()
  const result = spawnSync(command, args, {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    // The same clean environment as the other benchmarks (benchEnv): not this shell's. A
    // NODE_EXTRA_CA_CERTS there (this machine sets one) makes Node 20 read that CA bundle at every
    // start, ~50 ms, which kubectl never pays.
    env: benchEnv(path.join(PLUGIN_DIR, 'home'), {
      PATH: `${PLUGIN_DIR}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`,
      // No cluster: kubectl must not ask a server anything.
      KUBECONFIG: path.join(PLUGIN_DIR, 'no-kubeconfig'),
    }),
  })
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`)
  return elapsed
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function runStartupBenchmark(runs = RUNS): {
  samples: Sample[]
  rows: Array<{
    label: string
    base: string
    median: number
    min: number
    max: number
    ratio: number
    limit: number
    pass: boolean
  }>
} {
  const samples: Sample[] = [
    {label: 'node -e 0', args: ['-e', '0'], times: [], limit: 1},
    {label: 'kubectl-imgsec --version', args: [path.join(ROOT, 'bin', 'run.js'), '--version'], times: [], limit: 2},
    {label: 'kubectl-imgsec --help', args: [path.join(ROOT, 'bin', 'run.js'), '--help'], times: [], limit: 2},
    {
      label: 'kubectl-imgsec audit images --help',
      args: [path.join(ROOT, 'bin', 'run.js'), 'audit', 'images', '--help'],
      times: [],
      limit: 1.5,
    },
    {
      label: 'kubectl-imgsec create-regcred --help',
      args: [path.join(ROOT, 'bin', 'run.js'), 'create-regcred', '--help'],
      times: [],
      limit: 1.5,
    },
    {label: 'kubectl version --client', command: KUBECTL, args: ['version', '--client'], times: [], limit: 1},
    {
      label: 'kubectl imgsec --version',
      command: KUBECTL,
      args: ['imgsec', '--version'],
      base: 'kubectl version --client',
      times: [],
      limit: 2,
    },
  ]
  for (const sample of samples) time(sample.args, sample.command) // warm-up (file cache)
  for (let i = 0; i < runs; i++) {
    // Interleaved, rotating the order, so that drift in machine load hits every command alike.
    for (let j = 0; j < samples.length; j++) {
      const sample = samples[(i + j) % samples.length]
      sample.times.push(time(sample.args, sample.command))
    }
  }
  const baseOf = (s: Sample) => median(samples.find((b) => b.label === (s.base ?? 'node -e 0'))!.times)
  const rows = samples.map((s) => ({
    label: s.label,
    base: s.base ?? 'node -e 0',
    median: median(s.times),
    min: Math.min(...s.times),
    max: Math.max(...s.times),
    ratio: median(s.times) / baseOf(s),
    limit: s.limit,
    pass: median(s.times) / baseOf(s) <= s.limit,
  }))
  return {samples, rows}
}

export type StartupReport = ReturnType<typeof runStartupBenchmark>

/** Targets for the summary table: each command's median ≤ its limit × node -e 0. */
export function startupTargets(
  report: StartupReport,
): Array<{name: string; measured: string; limit: string; pass: boolean}> {
  return report.rows
    .filter((row) => row.label !== row.base && row.label !== 'kubectl version --client')
    .map((row) => ({
      name: `${row.label} median wall time ≤ ${row.limit} × ${row.base}`,
      limit: `≤ ${row.limit.toFixed(2)}×`,
      measured: `${row.ratio.toFixed(2)}× (${row.median.toFixed(1)} ms / ${report.rows.find((b) => b.label === row.base)!.median.toFixed(1)} ms)`,
      pass: row.pass,
    }))
}

export function renderStartupSection(report: StartupReport, runs: number): string {
  const lines = [
    "## 4. Start-up: `--version`, `--help` and commands' `--help` vs `node -e 0`",
    '',
    `Each command ${runs} times, interleaved with rotating order after one warm-up, as child processes from the bench (bench/startup.ts). \`--version\` and the top-level \`--help\` answer from bin/run.js without loading oclif (the help text is oclif's own, saved at build time).`,
    '',
    "`kubectl imgsec --version` goes through kubectl's plugin dispatch (`/usr/bin/kubectl` finds `kubectl-imgsec` on `PATH`, a symlink to bin/run.js as krew installs it, and execs it), compared with `kubectl version --client` (no kubeconfig: neither asks a server).",
    '',
    '| Command | Median | Min | Max | Ratio |',
    '|---|---|---|---|---|',
    ...report.rows.map(
      (r) =>
        `| \`${r.label}\` | ${r.median.toFixed(1)} ms | ${r.min.toFixed(1)} ms | ${r.max.toFixed(1)} ms | ${r.label === r.base || r.label === 'kubectl version --client' ? '' : `${r.ratio.toFixed(2)}× ${r.base}`} |`,
    ),
  ]
  return lines.join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const {rows} = runStartupBenchmark()
  for (const row of rows) {
    process.stdout.write(
      `${row.label.padEnd(36)} median ${row.median.toFixed(1)} ms (min ${row.min.toFixed(1)}, max ${row.max.toFixed(1)})  ${row.ratio.toFixed(2)}× ${row.base}${row.label === row.base || row.label === 'kubectl version --client' ? '' : row.pass ? `  PASS (≤ ${row.limit}×)` : `  MISS (> ${row.limit}×)`}\n`,
    )
  }
}

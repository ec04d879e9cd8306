// Benchmark 2: `audit images -f` on a 10,000-object YAML stream, compared with what the `yaml`
// package alone needs to parse the same stream (bench/yaml-alone.mjs, also a node process).
import {readFileSync, rmSync} from 'node:fs'
import path from 'node:path'

import {generateManifests, type ManifestStream} from './fixtures/manifests.js'
import {
  benchEnv,
  hasGnuTime,
  measureCommand,
  ms,
  mib,
  ratio,
  ROOT,
  type RssMode,
  type RunResult,
  scratchDir,
  type Stats,
  stats,
  type Target,
} from './support/measure.js'

export const FILE_TARGETS = {timeRatio: 1.5} as const
export const YAML_ALONE = path.join(ROOT, 'bench', 'yaml-alone.mjs')

export interface FileReport {
  stream: ManifestStream
  generateMs: number
  rssMethod: string
  yamlAlone: {command: string; wall: Stats; rss?: Stats; cpu?: Stats}
  audit: {command: string; wall: Stats; rss?: Stats; cpu?: Stats}
  auditOutput: {findings: number; bytes: number}
  targets: Target[]
}

export async function runFileBench(options: {
  runs: number
  cli: string
  log: (line: string) => void
}): Promise<FileReport> {
  const {log} = options
  const dir = scratchDir('imgsec-bench-files-')
  try {
    const file = path.join(dir, 'stream.yaml')
    const generateStarted = performance.now()
    const stream = generateManifests(file)
    const generateMs = performance.now() - generateStarted
    log(
      `files: wrote ${stream.objects} objects, ${(stream.bytes / 1024 / 1024).toFixed(1)} MiB, ${stream.lines} lines (${ms(generateMs)})`,
    )
    const rss: RssMode = hasGnuTime() ? 'gnu-time' : 'helper'
    const env = benchEnv(path.join(dir, 'home'))
    const yamlArgs = [YAML_ALONE, file]
    const auditArgs = [options.cli, 'audit', 'images', '-f', file, '-o', 'json', '--fail-on', 'none']
    const samples = {yaml: [] as RunResult[], audit: [] as RunResult[]}
    let auditOutput = {findings: 0, bytes: 0}
    for (let i = 0; i < options.runs; i++) {
      const order: Array<'yaml' | 'audit'> = i % 2 === 0 ? ['yaml', 'audit'] : ['audit', 'yaml']
      for (const which of order) {
        let sample: RunResult
        if (which === 'yaml') {
          // yaml-alone prints how many objects it parsed: the stream must be valid YAML, all of it.
          sample = await measureCommand(process.execPath, yamlArgs, {env: {...env, BENCH_PRINT_COUNT: '1'}, rss})
          const parsed = Number(sample.stderr.trim().split('\n').at(-1))
          if (parsed !== stream.objects)
            throw new Error(
              `yaml-alone parsed ${parsed} objects, expected ${stream.objects}: ${sample.stderr.slice(0, 500)}`,
            )
        } else if (i === 0) {
          // The first audit run keeps its output (to a file instead of /dev/null) to check it.
          const out = path.join(dir, 'audit.json')
          sample = await measureCommand(process.execPath, auditArgs, {env, rss, stdoutFile: out})
          const text = readFileSync(out, 'utf8')
          const doc = JSON.parse(text) as {findings: unknown[]; summary: {total: number}}
          if (doc.findings.length !== doc.summary.total || doc.findings.length === 0)
            throw new Error('audit -f: unexpected output')
          auditOutput = {findings: doc.findings.length, bytes: Buffer.byteLength(text)}
          rmSync(out)
        } else {
          sample = await measureCommand(process.execPath, auditArgs, {env, rss})
        }
        samples[which].push(sample)
        log(
          `files: run ${i + 1}/${options.runs} ${(which === 'yaml' ? 'yaml alone' : 'audit').padEnd(10)} ${ms(sample.ms).padStart(9)}${sample.cpuMs !== undefined ? `  CPU ${ms(sample.cpuMs)}` : ''}${sample.maxRssKiB ? `  peak RSS ${mib(sample.maxRssKiB)}` : ''}`,
        )
      }
    }
    const rssStats = (list: RunResult[]) =>
      list.every((s) => s.maxRssKiB) ? stats(list.map((s) => s.maxRssKiB!)) : undefined
    const cpuStats = (list: RunResult[]) =>
      list.every((s) => s.cpuMs !== undefined) ? stats(list.map((s) => s.cpuMs!)) : undefined
    const yamlAlone = {
      command: 'node bench/yaml-alone.mjs FILE',
      wall: stats(samples.yaml.map((s) => s.ms)),
      rss: rssStats(samples.yaml),
      cpu: cpuStats(samples.yaml),
    }
    const audit = {
      command: 'node bin/run.js audit images -f FILE -o json --fail-on none > /dev/null',
      wall: stats(samples.audit.map((s) => s.ms)),
      rss: rssStats(samples.audit),
      cpu: cpuStats(samples.audit),
    }
    const timeRatio = audit.wall.median / yamlAlone.wall.median
    return {
      stream,
      generateMs,
      rssMethod:
        rss === 'gnu-time'
          ? 'GNU time `%M` (and `%U %S` for CPU time)'
          : '`process.resourceUsage()` at exit (bench/support/maxrss.cjs)',
      yamlAlone,
      audit,
      auditOutput,
      targets: [
        {
          name: 'file audit wall time ≤ 1.5 × yaml alone (medians)',
          measured: `${ratio(timeRatio)} (${ms(audit.wall.median)} / ${ms(yamlAlone.wall.median)})`,
          limit: `≤ ${ratio(FILE_TARGETS.timeRatio)}`,
          pass: timeRatio <= FILE_TARGETS.timeRatio,
        },
      ],
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

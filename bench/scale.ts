// Issue 13's scale rows: the cluster audit's peak RSS as the cluster grows (bench/growth.ts), and
// the audit of 2,000 manifest files (~52 MiB) against `yaml` alone parsing the same files. With
// BENCH_BASELINE_CLI (the bin/run.js of an older build) each row is measured before → after,
// interleaved in the same run.
import path from 'node:path'

import {type FleetPoint, renderFleetRows, runFleetBench} from './fleet.js'
import {type GrowthPoint, runGrowthBench} from './growth.js'
import {generateManifestDir, type ManifestDir} from './fixtures/manifest-dir.js'
import {YAML_ALONE} from './files.js'
import {
  benchEnv,
  measureCommand,
  mib,
  ms,
  ratio,
  scratchDir,
  seriesCell,
  type Stats,
  stats,
  type Target,
} from './support/measure.js'

export const SCALE_TARGETS = {growthRatio: 1.15, rssMiB: 150, filesTime: 1.2, filesRss: 1.5} as const

export interface ScaleReport {
  sizes: number[]
  growth: GrowthPoint[]
  fleet: {points: FleetPoint[]; podsPerCluster: number; sizes: number[]}
  dir: ManifestDir
  files: Array<{label: string; wall: Stats; rss: Stats; cpu: Stats; runsMs: number[]; runsKiB: number[]}>
  baseline?: string
  targets: Target[]
}

export async function runScaleBench(options: {
  cli: string
  baseline?: string
  sizes: number[]
  growthRuns: number
  fileRuns: number
  /** Contexts of the fleet curve, and namespaces (50 pods) per cluster. */
  fleetSizes: number[]
  fleetNamespaces: number
  log: (line: string) => void
}): Promise<ScaleReport> {
  const clis = [{label: 'after', cli: options.cli}]
  if (options.baseline) clis.unshift({label: 'before', cli: options.baseline})
  const growth = await runGrowthBench({
    sizes: options.sizes,
    runs: options.growthRuns,
    clis,
    formats: ['json', 'table'],
    log: options.log,
  })
  const fleet = {
    ...(await runFleetBench({
      sizes: options.fleetSizes,
      namespaces: options.fleetNamespaces,
      runs: options.growthRuns,
      clis,
      formats: ['json'],
      log: options.log,
    })),
    sizes: options.fleetSizes,
  }

  const scratch = scratchDir('imgsec-bench-manyfiles-')
  const charts = path.join(scratch, 'charts')
  const dir = generateManifestDir(charts)
  options.log(`files: ${dir.files} files, ${dir.objects} objects, ${(dir.bytes / 1048576).toFixed(1)} MiB`)
  const env = benchEnv(path.join(scratch, 'home'))
  const commands = [
    {label: 'yaml alone', args: [YAML_ALONE, charts]},
    ...clis.map(({label, cli}) => ({
      label: `audit -f (${label})`,
      args: [cli, 'audit', 'images', '-f', charts, '-o', 'json', '--fail-on', 'none'],
    })),
  ]
  const samples = new Map(
    commands.map((c) => [c.label, {ms: [] as number[], kib: [] as number[], cpu: [] as number[]}]),
  )
  for (let run = 0; run < options.fileRuns; run++) {
    const order = commands.map((_, i) => commands[(i + run) % commands.length])
    for (const command of order) {
      const result = await measureCommand(process.execPath, command.args, {env, rss: 'gnu-time'})
      samples.get(command.label)!.ms.push(result.ms)
      samples.get(command.label)!.kib.push(result.maxRssKiB ?? 0)
      samples.get(command.label)!.cpu.push(result.cpuMs ?? 0)
      options.log(`files: ${command.label}: ${ms(result.ms)}, ${mib(result.maxRssKiB ?? 0)}`)
    }
  }
  const files = [...samples].map(([label, s]) => ({
    label,
    wall: stats(s.ms),
    rss: stats(s.kib),
    cpu: stats(s.cpu),
    runsMs: s.ms,
    runsKiB: s.kib,
  }))

  const after = (pods: number, format: string) =>
    growth.find((p) => p.cli === 'after' && p.pods === pods && p.format === format)
  const yaml = files[0]
  const audit = files.find((f) => f.label === 'audit -f (after)')!
  const targets: Target[] = []
  for (const format of ['json', 'table']) {
    const small = after(options.sizes[0], format)
    const at20k = after(20_000, format) ?? after(options.sizes.at(-1)!, format)
    if (!small || !at20k) continue
    const growthRatio = at20k.rss.median / small.rss.median
    targets.push(
      {
        name: `cluster audit -o ${format} peak RSS at ${at20k.pods} pods ≤ ${SCALE_TARGETS.growthRatio} × at ${small.pods} (medians, fake API server, one workload per 5 pods)`,
        limit: `≤ ${ratio(SCALE_TARGETS.growthRatio)}`,
        measured: `${ratio(growthRatio)} (${mib(at20k.rss.median)} / ${mib(small.rss.median)})`,
        pass: growthRatio <= SCALE_TARGETS.growthRatio,
      },
      {
        name: `cluster audit -o ${format} peak RSS at ${at20k.pods} pods ≤ ${SCALE_TARGETS.rssMiB} MiB (highest run)`,
        limit: `≤ ${SCALE_TARGETS.rssMiB} MiB`,
        measured: `${mib(at20k.rss.max)} (median ${mib(at20k.rss.median)})`,
        pass: at20k.rss.max / 1024 <= SCALE_TARGETS.rssMiB,
      },
    )
  }
  // A fleet's memory is bounded by --max-concurrency (4): the most contexts against 4.
  const fleetAt = (contexts: number) => fleet.points.find((p) => p.cli === 'after' && p.contexts === contexts)
  const [fleetBase, fleetMost] = [fleetAt(4), fleetAt(Math.max(...options.fleetSizes))]
  if (fleetBase && fleetMost && fleetMost !== fleetBase) {
    const fleetRatio = fleetMost.rss.median / fleetBase.rss.median
    targets.push({
      name: `fleet audit peak RSS at ${fleetMost.contexts} contexts ≤ ${SCALE_TARGETS.growthRatio} × at 4 (--max-concurrency 4, ${fleet.podsPerCluster} pods per cluster, medians)`,
      limit: `≤ ${ratio(SCALE_TARGETS.growthRatio)}`,
      measured: `${ratio(fleetRatio)} (${mib(fleetMost.rss.median)} / ${mib(fleetBase.rss.median)})`,
      pass: fleetRatio <= SCALE_TARGETS.growthRatio,
    })
  }
  const timeRatio = audit.wall.median / yaml.wall.median
  const rssRatio = audit.rss.median / yaml.rss.median
  targets.push(
    {
      name: `file audit of ${dir.files} files wall time ≤ ${SCALE_TARGETS.filesTime} × yaml alone (medians)`,
      limit: `≤ ${ratio(SCALE_TARGETS.filesTime)}`,
      measured: `${ratio(timeRatio)} (${ms(audit.wall.median)} / ${ms(yaml.wall.median)})`,
      pass: timeRatio <= SCALE_TARGETS.filesTime,
    },
    {
      name: `file audit of ${dir.files} files peak RSS ≤ ${SCALE_TARGETS.filesRss} × yaml alone (medians)`,
      limit: `≤ ${ratio(SCALE_TARGETS.filesRss)}`,
      measured: `${ratio(rssRatio)} (${mib(audit.rss.median)} / ${mib(yaml.rss.median)})`,
      pass: rssRatio <= SCALE_TARGETS.filesRss,
    },
  )
  return {sizes: options.sizes, growth, fleet, dir, files, baseline: options.baseline, targets}
}

const row = (cells: string[]) => `| ${cells.join(' | ')} |`

export function renderScaleSection(report: ScaleReport): string {
  const clis = [...new Set(report.growth.map((p) => `${p.cli} -o ${p.format}`))]
  const growthRows = report.sizes.map((pods) => {
    const cells = [String(pods), String(pods / 5)]
    for (const cli of clis) {
      const point = report.growth.find((p) => p.pods === pods && `${p.cli} -o ${p.format}` === cli)
      cells.push(point ? seriesCell(point) : 'n/a')
    }
    return row(cells)
  })
  return `## 5. Scale: the cluster audit's memory as the cluster grows; 2,000 manifest files

### Method

- Cluster: the fake API server in the bench process, seeded by \`bench/fixtures/cluster.ts\` with 50 pods
  per namespace (10 Deployments, each with one ReplicaSet owning 5 pods: one workload per 5 pods, every
  owner distinct), at ${report.sizes.join(', ')} pods. Each size gets a fresh server; at each size the
  commands run interleaved, rotating which goes first: \`node bin/run.js audit images -A -o json --fail-on none\`
  and the same with \`-o table\`, stdout to \`/dev/null\`, peak RSS by GNU time \`%M\`.${report.baseline ? ` "before" is the build at \`BENCH_BASELINE_CLI\` (${report.baseline}); "after" is this build.` : ''}
- Files: \`bench/fixtures/manifest-dir.ts\` cuts the 25,000-object stream of \`bench/fixtures/manifests.ts\`
  into ${report.dir.files} files at document boundaries (${(report.dir.bytes / 1048576).toFixed(1)} MiB). "yaml alone" is
  \`node bench/yaml-alone.mjs DIR\`: the files one at a time, \`parseAllDocuments\` and \`toJS()\` of each document,
  each file's documents dropped before the next. The audit: \`audit images -f DIR -o json --fail-on none\`.

### Cluster audit: peak RSS median (each run, MiB); wall median

${row(['Pods', 'Workloads', ...clis])}
${row(['---', '---', ...clis.map(() => '---')])}
${growthRows.join('\n')}

${renderFleetRows(report.fleet, row)}

### ${report.dir.files} files

${row(['Command', 'Runs', 'Wall median (each run)', 'CPU user+sys median', 'Peak RSS median (each run, MiB)'])}
|---|---|---|---|---|
${report.files
  .map((f) =>
    row([
      f.label,
      String(f.wall.runs),
      `${ms(f.wall.median)} (${f.runsMs.map((v) => (v / 1000).toFixed(1)).join(', ')} s)`,
      ms(f.cpu.median),
      `${mib(f.rss.median)} (${f.runsKiB.map((k) => (k / 1024).toFixed(0)).join(', ')})`,
    ]),
  )
  .join('\n')}
`
}

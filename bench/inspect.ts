// `audit images --inspect` over 50 distinct images in a real docker-registry: wall time, peak RSS
// and the bytes the registry served (its own access log), cold (empty layer cache), warm (cache
// filled by the cold run) and with --no-cache. Part of `npm run bench` (BENCH_ONLY=inspect runs it
// alone); knobs BENCH_INSPECT_IMAGES=50, BENCH_INSPECT_BASE_FILES=3000.
import {randomBytes} from 'node:crypto'
import {rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {startRegistry} from '../test/support/registry.js'
import {buildTestImage, layerOf, pushTestImage, type TestEntry} from '../test/support/test-images.js'
import {benchEnv, hasGnuTime, measureCommand, mib, ms, scratchDir, type Target} from './support/measure.js'

const IMAGES = Number(process.env.BENCH_INSPECT_IMAGES ?? 50)
const BASE_FILES = Number(process.env.BENCH_INSPECT_BASE_FILES ?? 3000)

export interface InspectRun {
  label: string
  ms: number
  maxRssKiB?: number
  blobBytes: number
}

export interface InspectReport {
  images: number
  baseLayerBytes: number
  /** Every image's layers summed, as that many pulls would fetch them. */
  pulledBytes: number
  distinctBytes: number
  runs: InspectRun[]
  targets: Target[]
}

function servedBytes(logs: string): number {
  let total = 0
  for (const line of logs.split('\n'))
    if (/http\.request\.method=GET/.test(line) && /\/blobs\/sha256:/.test(line)) {
      const written = /http\.response\.written=(\d+)/.exec(line)
      if (written) total += Number(written[1])
    }
  return total
}

/** The three runs of `audit images --inspect` with the CLI at `cli` (a snapshot of this build). */
export async function runInspectBench(options: {cli: string; log: (line: string) => void}): Promise<InspectReport> {
  const log = options.log
  const registry = await startRegistry()
  const dir = scratchDir('imgsec-bench-inspect-')
  try {
    // A Debian-like base shared by every image (its files of random bytes, so gzip cannot hide
    // them), and one layer of its own per image: 50 distinct images, as many app layers.
    const baseEntries: TestEntry[] = [
      {name: 'bin/sh', mode: 0o755},
      {name: 'usr/bin/apt', mode: 0o755},
      {name: 'usr/bin/passwd', mode: 0o4755},
      ...Array.from({length: BASE_FILES}, (_, i) => ({
        name: `usr/share/doc/pkg${i % 300}/file${i}`,
        content: randomBytes(2048),
      })),
    ]
    const base = await layerOf(baseEntries)
    const workloads: string[] = []
    let appBytes = 0
    for (let i = 0; i < IMAGES; i++) {
      const app = await layerOf(
        Array.from({length: 200}, (_, j) => ({name: `app/${i}/lib${j}.so`, content: randomBytes(1024)})),
      )
      appBytes += app.blob.length
      const image = buildTestImage({layers: [base, app], user: i % 2 ? '1000' : '', created: new Date().toISOString()})
      await pushTestImage(registry, `bench/app${i}`, '1.0', image)
      workloads.push(
        [
          'apiVersion: apps/v1',
          'kind: Deployment',
          `metadata: {name: app${i}, namespace: bench}`,
          'spec:',
          '  template:',
          '    spec:',
          `      containers: [{name: app, image: "${registry.host}/bench/app${i}:1.0"}]`,
        ].join('\n'),
      )
    }
    const manifests = path.join(dir, 'workloads.yaml')
    writeFileSync(manifests, workloads.join('\n---\n') + '\n')
    log(`${IMAGES} images pushed; shared base layer ${(base.blob.length / 1024 / 1024).toFixed(2)} MiB compressed`)
    const home = scratchDir('imgsec-bench-home-')
    const env = benchEnv(home, {XDG_CACHE_HOME: path.join(dir, 'cache')})
    const rss = hasGnuTime() ? 'gnu-time' : 'helper'
    const runs: InspectRun[] = []
    for (const [label, extra] of [
      ['cold (empty cache)', []],
      ['warm (layer cache)', []],
      ['--no-cache', ['--no-cache']],
    ] as const) {
      const before = servedBytes(registry.logs())
      const args = [
        options.cli,
        'audit',
        'images',
        '-f',
        manifests,
        '--inspect',
        '-o',
        'json',
        '--fail-on',
        'none',
        ...extra,
      ]
      const result = await measureCommand(process.execPath, args, {env, rss})
      const bytes = servedBytes(registry.logs()) - before
      runs.push({label, ms: result.ms, maxRssKiB: result.maxRssKiB, blobBytes: bytes})
      log(`inspect ${label}: ${ms(result.ms)}, ${(bytes / 1048576).toFixed(2)} MiB of blobs`)
    }
    rmSync(home, {recursive: true, force: true})
    const pulledBytes = IMAGES * base.blob.length + appBytes
    const distinctBytes = base.blob.length + appBytes
    const [cold, warm] = runs
    return {
      images: IMAGES,
      baseLayerBytes: base.blob.length,
      pulledBytes,
      distinctBytes,
      runs,
      targets: [
        {
          name: `inspect cold run reads each distinct layer once (blob bytes ≤ 1.05 × the distinct layers, ${IMAGES} images sharing a base)`,
          limit: '≤ 1.05×',
          measured: `${(cold.blobBytes / distinctBytes).toFixed(2)}× (${mib(cold.blobBytes / 1024)} / ${mib(distinctBytes / 1024)})`,
          pass: cold.blobBytes <= 1.05 * distinctBytes,
        },
        {
          name: 'inspect warm run (layer cache) reads configs only: blob bytes ≤ 1 % of the cold run',
          limit: '≤ 1 %',
          measured: `${((100 * warm.blobBytes) / Math.max(1, cold.blobBytes)).toFixed(2)} % (${(warm.blobBytes / 1024).toFixed(1)} KiB)`,
          pass: warm.blobBytes <= 0.01 * cold.blobBytes,
        },
      ],
    }
  } finally {
    await registry.stop()
    rmSync(dir, {recursive: true, force: true})
  }
}

export function renderInspectSection(report: InspectReport): string {
  const rows = report.runs.map(
    (run) =>
      `| ${run.label} | ${ms(run.ms)} | ${run.maxRssKiB ? mib(run.maxRssKiB) : 'n/a'} | ${(run.blobBytes / 1048576).toFixed(2)} MiB |`,
  )
  return `## 6. Image inspection: \`audit images --inspect\` over ${report.images} images in a real registry

### Method

- Debian's docker-registry (\`test/support/registry.ts\`), ${report.images} images built by \`bench/inspect.ts\`: one
  base layer of ${BASE_FILES} files of random bytes shared by all (${(report.baseLayerBytes / 1048576).toFixed(2)} MiB compressed),
  and one app layer of 200 files each. One Deployment per image in one manifest file.
- \`audit images -f workloads.yaml --inspect -o json --fail-on none\`, three runs in order: cold (empty
  layer cache), warm (the cache the cold run filled), \`--no-cache\`. Blob bytes are what the registry
  served (its access log's \`http.response.written\` for GETs of blobs).
- Pulling every image would fetch ${(report.pulledBytes / 1048576).toFixed(1)} MiB; the distinct layers are
  ${(report.distinctBytes / 1048576).toFixed(1)} MiB.

### Numbers

| Run | Wall | Peak RSS | Blob bytes served |
|---|---|---|---|
${rows.join('\n')}
`
}

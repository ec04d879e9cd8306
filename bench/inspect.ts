// `audit images --inspect` over 50 distinct images in a real docker-registry: wall time, peak RSS
// and the bytes the registry served (its own access log), cold (empty layer cache), warm (cache
// filled by the cold run) and with --no-cache. Run after `npm run build`:
//   node --import tsx bench/inspect.ts            (BENCH_INSPECT_IMAGES=50, BENCH_INSPECT_BASE_FILES=3000)
// Not part of `npm run bench` yet; its numbers are copied into docs/benchmarks.md by hand.
import {randomBytes} from 'node:crypto'
import {rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {startRegistry} from '../test/support/registry.js'
import {buildTestImage, layerOf, pushTestImage, type TestEntry} from '../test/support/test-images.js'
import {benchEnv, hasGnuTime, measureCommand, mib, ms, scratchDir, snapshotCli} from './support/measure.js'

const IMAGES = Number(process.env.BENCH_INSPECT_IMAGES ?? 50)
const BASE_FILES = Number(process.env.BENCH_INSPECT_BASE_FILES ?? 3000)
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`)

function servedBytes(logs: string): number {
  let total = 0
  for (const line of logs.split('\n'))
    if (/http\.request\.method=GET/.test(line) && /\/blobs\/sha256:/.test(line)) {
      const written = /http\.response\.written=(\d+)/.exec(line)
      if (written) total += Number(written[1])
    }
  return total
}

async function main(): Promise<void> {
  const registry = await startRegistry()
  const dir = scratchDir('imgsec-bench-inspect-')
  const snapshot = snapshotCli()
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
    const rows: string[][] = [['run', 'wall', 'peak RSS', 'blob bytes served']]
    for (const [label, extra] of [
      ['cold (empty cache)', []],
      ['warm (layer cache)', []],
      ['--no-cache', ['--no-cache']],
    ] as const) {
      const before = servedBytes(registry.logs())
      const args = [
        snapshot.cli,
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
      rows.push([
        label,
        ms(result.ms),
        result.maxRssKiB ? mib(result.maxRssKiB) : 'n/a',
        `${(bytes / 1024 / 1024).toFixed(2)} MiB`,
      ])
    }
    process.stdout.write(rows.map((r) => `| ${r.join(' | ')} |`).join('\n') + '\n')
    log(
      `every image's layers, summed as 50 pulls would fetch them: ${((IMAGES * base.blob.length + appBytes) / 1024 / 1024).toFixed(1)} MiB; distinct layers: ${((base.blob.length + appBytes) / 1024 / 1024).toFixed(1)} MiB`,
    )
    rmSync(home, {recursive: true, force: true})
  } finally {
    snapshot.dispose()
    await registry.stop()
    rmSync(dir, {recursive: true, force: true})
  }
}

await main()

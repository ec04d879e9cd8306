// Growth of a fleet audit's peak RSS with the number of clusters: `audit images --contexts` over
// 1, 4, 16 and 48 contexts, each a fake API server (in the bench process) seeded with the same
// shape, --max-concurrency 4. Each CLI given (this build and, for before → after, an older build)
// runs interleaved with the others at each size, so load on the machine hits them alike.
import path from 'node:path'

import {FakeKubeApiServer} from '../test/support/fake-kube-api.js'
import {writeFleetKubeconfig} from '../test/support/fleet-kubeconfig.js'
import {seedCluster} from './fixtures/cluster.js'
import {benchEnv, measureInterleaved, mib, ms, scratchDir, seriesCell, type CliSeries} from './support/measure.js'

export interface FleetPoint extends CliSeries {
  contexts: number
}

export async function runFleetBench(options: {
  sizes: number[]
  /** Namespaces per cluster (50 pods, 10 workloads each). */
  namespaces: number
  runs: number
  clis: Array<{label: string; cli: string}>
  formats: string[]
  log: (line: string) => void
}): Promise<{points: FleetPoint[]; podsPerCluster: number}> {
  const count = Math.max(...options.sizes)
  const servers: FakeKubeApiServer[] = []
  const points: FleetPoint[] = []
  let podsPerCluster = 0
  try {
    for (let i = 0; i < count; i++) {
      const server = await FakeKubeApiServer.start({})
      servers.push(server)
      podsPerCluster = seedCluster(server, {namespaces: options.namespaces}).pods
    }
    const names = servers.map((_, i) => `cluster-${String(i).padStart(2, '0')}`)
    const kubeconfig = writeFleetKubeconfig(Object.fromEntries(names.map((name, i) => [name, servers[i].url])))
    const env = benchEnv(path.join(scratchDir('imgsec-bench-fleet-'), 'home'), {KUBECONFIG: kubeconfig})
    for (const size of options.sizes) {
      const series = await measureInterleaved({
        runs: options.runs,
        formats: options.formats,
        clis: options.clis,
        env,
        args: (format) => [
          ...['audit', 'images', '-A', '--contexts', names.slice(0, size).join(',')],
          ...['--max-concurrency', '4', '-o', format, '--fail-on', 'none'],
        ],
        log: (label, format, result) =>
          options.log(
            `fleet: ${size} contexts, ${label} -o ${format}: ${mib(result.maxRssKiB ?? 0)}, ${ms(result.ms)}`,
          ),
      })
      for (const point of series) points.push({contexts: size, ...point})
    }
  } finally {
    for (const server of servers) await server.stop()
  }
  return {points, podsPerCluster}
}

// Standalone: node --import tsx bench/fleet.ts SIZES NAMESPACES RUNS FORMATS label=cli.js ...
if (process.argv[1]?.endsWith('fleet.ts')) {
  const [sizes, namespaces, runs, formats, ...clis] = process.argv.slice(2)
  const {points, podsPerCluster} = await runFleetBench({
    sizes: sizes.split(',').map(Number),
    namespaces: Number(namespaces),
    runs: Number(runs),
    formats: formats.split(','),
    clis: clis.map((spec) => ({label: spec.split('=')[0], cli: spec.split('=')[1]})),
    log: (line) => console.error(line),
  })
  console.log(`${podsPerCluster} pods per cluster`)
  for (const p of points) console.log(`${p.contexts}\t${p.cli}\t${p.format}\t${seriesCell(p)}`)
}

/** The fleet curve as a markdown section: contexts down, CLIs across. */
export function renderFleetRows(
  fleet: {points: FleetPoint[]; podsPerCluster: number; sizes: number[]},
  row: (cells: string[]) => string,
): string {
  const clis = [...new Set(fleet.points.map((p) => p.cli))]
  return [
    `### Fleet audit: peak RSS median (each run, MiB); wall median`,
    '',
    `\`audit images -A --contexts c1,…,cN --max-concurrency 4 -o json\`, each context a fake API server in the bench process seeded as above with ${fleet.podsPerCluster} pods (one workload per 5 pods).`,
    '',
    row(['Contexts', 'Pods in all', ...clis]),
    row(['---', '---', ...clis.map(() => '---')]),
    ...fleet.sizes.map((contexts) =>
      row([
        String(contexts),
        String(contexts * fleet.podsPerCluster),
        ...clis.map((cli) => {
          const point = fleet.points.find((p) => p.contexts === contexts && p.cli === cli)
          return point ? seriesCell(point) : 'n/a'
        }),
      ]),
    ),
  ].join('\n')
}

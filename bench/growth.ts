// Growth of the cluster audit's peak RSS with the cluster's size: the audit of clusters of
// 5k, 10k, 20k (and 40k) pods on the fake API server, one workload (Deployment → ReplicaSet)
// per 5 pods, every owner distinct. Each CLI given (this build and, for before → after, an older
// build) runs interleaved with the others at each size, so load on the machine hits them alike.
import path from 'node:path'

import {FakeKubeApiServer} from '../test/support/fake-kube-api.js'
import {seedCluster} from './fixtures/cluster.js'
import {benchEnv, measureInterleaved, mib, ms, scratchDir, seriesCell, type CliSeries} from './support/measure.js'

export interface GrowthPoint extends CliSeries {
  pods: number
  workloads: number
}

/** Pods per namespace in the fixture: 10 Deployments × 5 pods. */
const PODS_PER_NAMESPACE = 50

export async function runGrowthBench(options: {
  sizes: number[]
  runs: number
  clis: Array<{label: string; cli: string}>
  formats: string[]
  log: (line: string) => void
}): Promise<GrowthPoint[]> {
  const dir = scratchDir('imgsec-bench-growth-')
  const points: GrowthPoint[] = []
  for (const pods of options.sizes) {
    const server = await FakeKubeApiServer.start({})
    try {
      const counts = seedCluster(server, {namespaces: Math.ceil(pods / PODS_PER_NAMESPACE)})

      const kubeconfig = await server.writeKubeconfig(path.join(dir, `kubeconfig-${pods}`))
      const env = benchEnv(path.join(dir, 'home'), {KUBECONFIG: kubeconfig})
      const series = await measureInterleaved({
        runs: options.runs,
        formats: options.formats,
        clis: options.clis,
        env,
        args: (format) => ['audit', 'images', '-A', '-o', format, '--fail-on', 'none'],
        log: (label, format, result) =>
          options.log(
            `growth: ${counts.pods} pods, ${label} -o ${format}: ${mib(result.maxRssKiB ?? 0)}, ${ms(result.ms)}`,
          ),
      })
      for (const point of series) points.push({pods: counts.pods, workloads: counts.deployments, ...point})
    } finally {
      await server.stop()
    }
  }
  return points
}

// Standalone: node --import tsx bench/growth.ts SIZES RUNS FORMATS label=cli.js ...
if (process.argv[1]?.endsWith('growth.ts')) {
  const [sizes, runs, formats, ...clis] = process.argv.slice(2)
  const points = await runGrowthBench({
    sizes: sizes.split(',').map(Number),
    runs: Number(runs),
    formats: formats.split(','),
    clis: clis.map((spec) => ({label: spec.split('=')[0], cli: spec.split('=')[1]})),
    log: (line) => console.error(line),
  })
  for (const p of points) console.log(`${p.pods}\t${p.cli}\t${p.format}\t${seriesCell(p)}`)
}

// `npm run bench`: builds (in package.json), then runs the three benchmarks, prints a summary and
// writes docs/benchmarks.md. Benchmarks report against targets; a MISS is reported, not fatal:
// the exit code is 0 unless something crashed.
//
// Knobs (environment):
//   BENCH_CLUSTER_RUNS  measured runs per command in the cluster benchmark (default 3)
//   BENCH_FILE_RUNS     measured runs per command in the file benchmark (default 4)
//   BENCH_WEBHOOK_RUNS  measured runs per server in the webhook benchmark (default 3; its other
//                       knobs, BENCH_WEBHOOK_SECONDS, _CONCURRENCY, _CLIENTS, ..., are in bench/webhook.ts)
//   BENCH_ONLY          "cluster", "files", "webhook", "startup", "scale" or "inspect": run one benchmark, print, do not write the doc
//   BENCH_INSPECT_IMAGES, BENCH_INSPECT_BASE_FILES  the inspect benchmark's images (default 50) and base files (3000)
//   BENCH_BASELINE_CLI  bin/run.js of an older build: the scale rows are measured before → after
//   BENCH_GROWTH_SIZES  pod counts of the growth curve (default 5000,10000,20000,40000)
//   BENCH_GROWTH_RUNS   runs per size and build (default 2); BENCH_MANYFILES_RUNS (default 3)
//   BENCH_FIRST_CALL_RUNS  runs of each command to its first API request (default 10); BENCH_RELEASE=0
//                       measures only the npm install, not the release archives (npm run package, built in scratch)
//   BENCH_FLEET_SIZES   contexts of the fleet curve (default 1,4,16,48); BENCH_FLEET_NAMESPACES
//                       namespaces of 50 pods per cluster (default 20)
//   BENCH_NO_GNU_TIME   read node's peak RSS with the --require helper instead of GNU time
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {type ClusterReport, type CommandReport, KUBECTL, runClusterBench} from './cluster.js'
import {type FileReport, runFileBench} from './files.js'
import {machineInfo, mib, ms, ROOT, snapshotCli, type Stats, type Target} from './support/measure.js'
import {renderStartupSection, runStartupBenchmark, type StartupReport, startupTargets} from './startup.js'
import {type FirstCallReport, firstCallTargets, renderFirstCallSection, runFirstCallBench} from './first-call.js'
import {renderWebhookSection, runWebhookBench, type WebhookReport, webhookSummaryRows} from './webhook.js'
import {renderScaleSection, runScaleBench, type ScaleReport} from './scale.js'
import {type InspectReport, renderInspectSection, runInspectBench} from './inspect.js'

const DOC = path.join(ROOT, 'docs', 'benchmarks.md')
const NOTES = path.join(ROOT, 'bench', 'notes.md')

function positive(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`)
  return value
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`)

function table(rows: string[][]): string {
  const [head, ...body] = rows
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
}

function plainTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

const wallCells = (s: Stats) => [String(s.runs), ms(s.median), ms(s.min), ms(s.max)]
const rssCell = (s: Stats | undefined) => (s ? `${mib(s.median)} (max ${mib(s.max)})` : 'n/a')
const cpuCell = (s: Stats | undefined) => (s ? ms(s.median) : 'n/a')
const verdict = (t: Target) => (t.pass ? 'PASS' : 'MISS')

function requestsCell(c: CommandReport): string {
  return Object.entries(c.requestPaths)
    .map(([p, n]) => `${p} ×${n}`)
    .join(', ')
}

function summaryRows(targets: Target[]): string[][] {
  return [['Target', 'Limit', 'Measured', 'Result'], ...targets.map((t) => [t.name, t.limit, t.measured, verdict(t)])]
}

function renderDoc(
  machine: ReturnType<typeof machineInfo>,
  cluster: ClusterReport,
  files: FileReport,
  webhook: WebhookReport,
  startup: StartupReport,
  firstCall: FirstCallReport,
  scale: ScaleReport,
  inspect: InspectReport,
  totalMs: number,
  runs: {cluster: number; files: number},
  kubectlVersion: string,
  loadEnd: string,
  build: string,
): string {
  const yamlVersion = (
    JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'yaml', 'package.json'), 'utf8')) as {version: string}
  ).version
  const targets = [
    ...cluster.targets,
    ...files.targets,
    ...webhook.targets,
    ...startupTargets(startup),
    ...firstCallTargets(firstCall),
    ...scale.targets,
    ...inspect.targets,
  ]
  const c = cluster
  const clientSide = (r: CommandReport) => (r.serverBusy ? ms(r.wall.median - r.serverBusy.median) : 'n/a')
  const notes = existsSync(NOTES) ? readFileSync(NOTES, 'utf8').trim() : ''
  return `# Benchmarks

Generated by \`npm run bench\` (\`bench/run.ts\`) on ${machine.date}; every number outside the last
section is from the run that wrote this file. The last section ("Analysis") is hand-written, kept in
\`bench/notes.md\` and copied in by each run.

## Results against the targets

${table(summaryRows(targets))}

A MISS is reported here and in the summary the bench prints; \`npm run bench\` still exits 0. It exits
non-zero only when something crashed (a command exited non-zero, or the output checks failed).

## Machine

| | |
|---|---|
| Code measured | \`${build}\` (built by \`npm run bench\` at the start of the run) |
| Node | ${machine.node} |
| CPUs (\`os.cpus().length\`) | ${machine.cpus} × ${machine.cpuModel} |
| Memory | ${machine.memory} |
| OS | ${machine.os} |
| kubectl | \`${KUBECTL}\`: ${kubectlVersion} (Google Cloud SDK's kubectl; it asks the server's \`/version\` on each run — one extra request — and, for this v1.32 server, runs in the same process, no second exec) |
| Load average (1, 5, 15 min) at start / end | ${machine.loadavg} / ${loadEnd} |
| Date | ${machine.date} |
| Total bench time (after the build) | ${(totalMs / 1000).toFixed(0)} s |

## How to run

\`\`\`sh
npm run bench                      # npm run build, then the benchmarks; rewrites docs/benchmarks.md
BENCH_CLUSTER_RUNS=6 BENCH_FILE_RUNS=8 BENCH_WEBHOOK_RUNS=5 npm run bench    # more runs (default 3, 4 and 3)
BENCH_ONLY=cluster npm run bench   # one benchmark (cluster|files|webhook|startup|scale|inspect); prints only, leaves the doc alone
BENCH_BASELINE_CLI=/path/to/older/checkout/bin/run.js npm run bench   # scale rows before → after (build the older commit there first)
BENCH_ONLY=scale BENCH_GROWTH_SIZES=5000,20000 BENCH_GROWTH_RUNS=3 npm run bench   # the growth curve at chosen sizes
BENCH_ONLY=scale BENCH_FLEET_SIZES=4,48 BENCH_FLEET_NAMESPACES=10 npm run bench   # the fleet curve: contexts, 50-pod namespaces per cluster
BENCH_ONLY=webhook BENCH_WEBHOOK_BACKEND_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench   # profile the backend in place
npx tsc -p bench/tsconfig.json     # typecheck the bench scripts
\`\`\`

Needs \`/usr/bin/kubectl\`; peak RSS is read with GNU \`/usr/bin/time\` when present (otherwise node's own
\`process.resourceUsage().maxRSS\` through \`bench/support/maxrss.cjs\`, and kubectl's RSS is not measured).
The webhook benchmark needs Linux (\`/proc\` for CPU times) and \`cat\`.
The bench takes about ${Math.round(totalMs / 60000)} minutes on the machine above (plus the build). Run it on an otherwise idle
machine: the numbers are wall times. The CLI it measures is a private copy of the fresh build (\`bin/\`,
\`dist/\`, \`package.json\`, \`oclif.manifest.json\`, \`node_modules\` symlinked), so rebuilding in the working
tree while the bench runs (\`npm test\` starts with \`rm -rf dist\`) cannot break or change it.

## 1. Cluster audit vs \`kubectl get pods -A -o json\`

### Method

- The project's fake API server (\`test/support/fake-kube-api.ts\`, plain HTTP on 127.0.0.1) runs inside the
  bench process (\`node --import tsx bench/run.ts\`), seeded by \`bench/fixtures/cluster.ts\` with
  ${c.shape.namespaces} namespaces, ${c.shape.deployments} Deployments, ${c.shape.replicaSets} ReplicaSets (one per Deployment, owned by it through
  \`ownerReferences\` with \`controller: true\`) and ${c.shape.pods} pods (5 per ReplicaSet, owned by it the same
  way), ${c.shape.secrets} docker-registry pull secrets and ${c.shape.serviceAccounts} service accounts. Pods look like what a real apiserver returns:
  1–2 containers with images from Docker Hub, ghcr.io, quay.io, registry.k8s.io and a private registry
  (some \`:latest\`, some untagged, some pinned by digest), env, probes, volume mounts, container and pod
  \`securityContext\`, \`resources\`, tolerations, projected service-account volume, and \`status\` with
  conditions and \`containerStatuses\` whose \`imageID\` is \`<registry>/<repository>@sha256:<64 hex>\` (5 % of
  the Deployments run one tag as two digests). Seeding took ${ms(c.seedMs)}.
- Commands, each a child process with stdout to \`/dev/null\`, \`HOME\` a scratch directory shared by all runs
  (kubectl keeps its discovery cache there, as it would for a user), no \`NODE_OPTIONS\`:
  - (a) \`${c.kubectl.command}\`
  - (b) \`${c.audit.command}\`
- Wall time: from \`spawn()\` to the child's exit, measured in the bench process. One warm-up run of each
  (not counted; it checks that kubectl printed all ${c.kubectlItems} pods and that the audit folded every pod into its
  Deployment), then ${runs.cluster} measured runs of each, interleaved and alternating which command goes first.
- Peak RSS and CPU time: ${c.rssMethod}.
- Server cost: both commands are served by the same single-threaded fake server, which is part of what is
  timed. The bench hooks the server's \`dispatch()\` and \`send()\` to add up the time its event loop spent
  building and sending each command's responses ("server busy"), and counts the requests each command
  made (\`server.requests\`). "Wall − server busy" below estimates the time that is the command's own (it
  ignores the little overlap there is). CPU time is the child's user + system time (V8's GC and compiler
  threads run in parallel, so it can exceed wall time); it is less disturbed than wall time when other
  work shares the machine.

### Numbers

${table([
  [
    'Command',
    'Runs',
    'Median',
    'Min',
    'Max',
    'CPU user+sys (median)',
    'Peak RSS median (max)',
    'Server busy (median)',
    'Wall − server busy (median)',
  ],
  ...[c.kubectl, c.audit].map((r) => [
    r.label,
    ...wallCells(r.wall),
    cpuCell(r.cpu),
    rssCell(r.rss),
    r.serverBusy ? ms(r.serverBusy.median) : 'n/a',
    clientSide(r),
  ]),
])}

| Command | HTTP requests per run | Response bytes per run |
|---|---|---|
| (a) kubectl | ${c.kubectl.requests}: ${requestsCell(c.kubectl)} | ${(c.kubectl.responseBytes / 1024 / 1024).toFixed(1)} MiB |
| (b) audit | ${c.audit.requests}: ${requestsCell(c.audit)} | ${(c.audit.responseBytes / 1024 / 1024).toFixed(1)} MiB |

Requests are from the last measured run of each; kubectl's discovery cache is warm by then (its warm-up
run also fetched \`/api\`, \`/apis\` and the group versions). Both list pods in pages of 500 (kubectl's
default \`--chunk-size\`, the audit's page size); the audit's other requests are the owner kinds it folds
pods into (ReplicaSet → Deployment, Job → CronJob, StatefulSet, DaemonSet) and the secrets and service
accounts that tell which pull secrets a pod can use, all across namespaces.

The audit's output: ${c.auditOutput.findings} findings, reported on ${c.auditOutput.resources} workloads (${Object.entries(
    c.auditOutput.kinds,
  )
    .map(([k, n]) => `${n} ${k}s`)
    .join(', ')}; the other Deployments of the ${c.shape.deployments} have no findings), none on a pod or ReplicaSet.
The same audit command against an empty cluster (its fixed cost: node, oclif, \`@kubernetes/client-node\`,
${c.emptyClusterAudit.requests} requests): ${ms(c.emptyClusterAudit.wallMs)}, peak RSS ${c.emptyClusterAudit.rssKiB ? mib(c.emptyClusterAudit.rssKiB) : 'n/a'}.

## 2. File audit vs \`yaml\` alone

### Method

- \`bench/fixtures/manifests.ts\` writes one multi-document YAML stream, like \`helm template\` output of many
  charts (\`---\`, \`# Source:\` comments, block style, plain/double-quoted scalars, block literals):
  ${files.stream.objects} objects (${Object.entries(files.stream.kinds)
    .map(([k, n]) => `${n} ${k}s`)
    .join(', ')}),
  ${(files.stream.bytes / 1024 / 1024).toFixed(1)} MiB, ${files.stream.lines} lines. Deployments, CronJobs and Pods have 1–2 containers (a quarter
  also an init container) with env, probes, resources, securityContext, volumes; ConfigMaps carry a small
  JSON and a YAML config file. Generated in ${ms(files.generateMs)}.
- Commands, each a child process with stdout to \`/dev/null\` (the first audit run writes to a scratch file
  instead, to check its JSON):
  - audit: \`${files.audit.command}\`
  - yaml alone: \`${files.yamlAlone.command}\` — **what it includes**: node startup, the ESM import of the
    project's \`yaml\` ${yamlVersion} package, \`readFileSync(FILE, 'utf8')\`, \`parseAllDocuments(text)\` (default options, no
    \`LineCounter\`), and \`document.toJS()\` of every document; it keeps the documents until exit, as the
    audit does. It excludes everything else the audit does: oclif, \`LineCounter\`, flattening, the checks,
    line lookups, building and writing the JSON report. Each run also checks that all ${files.stream.objects} objects parsed.
- Wall time from \`spawn()\` to exit; ${runs.files} runs of each, interleaved and alternating which goes first; no
  warm-up run (the file is in the page cache, node and the packages were just loaded by the cluster benchmark).
- Peak RSS and CPU time: ${files.rssMethod}. The target is on wall time; CPU time (user + system) is shown
  because it is less disturbed by other work on the machine.

### Numbers

${table([
  ['Command', 'Runs', 'Median', 'Min', 'Max', 'CPU user+sys (median)', 'Peak RSS median (max)'],
  ['yaml alone', ...wallCells(files.yamlAlone.wall), cpuCell(files.yamlAlone.cpu), rssCell(files.yamlAlone.rss)],
  ['audit -f', ...wallCells(files.audit.wall), cpuCell(files.audit.cpu), rssCell(files.audit.rss)],
])}

The audit's output: ${files.auditOutput.findings} findings, ${(files.auditOutput.bytes / 1024 / 1024).toFixed(1)} MiB of JSON.

${renderWebhookSection(webhook)}

${renderStartupSection(startup, startup.samples[0].times.length)}

${renderFirstCallSection(firstCall)}

${renderScaleSection(scale)}

${renderInspectSection(inspect)}
${notes ? `\n${notes}\n` : ''}`
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY
  if (only !== undefined && !['cluster', 'files', 'webhook', 'startup', 'scale', 'inspect'].includes(only))
    throw new Error('BENCH_ONLY must be "cluster", "files", "webhook", "startup", "scale" or "inspect"')
  const runs = {
    cluster: positive('BENCH_CLUSTER_RUNS', 3),
    files: positive('BENCH_FILE_RUNS', 4),
    webhook: positive('BENCH_WEBHOOK_RUNS', 3),
  }
  if (!existsSync(path.join(ROOT, 'dist', 'commands')))
    throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)')
  if (!existsSync(KUBECTL)) throw new Error(`${KUBECTL} is missing`)
  const machine = machineInfo()
  const {spawnSync} = await import('node:child_process')
  const git = (args: string[]) => spawnSync('git', args, {cwd: ROOT, encoding: 'utf8'}).stdout?.trimEnd() ?? ''
  // Porcelain lines are "XY path": the status columns come first, so no trimming before slicing.
  const dirty = git(['status', '--porcelain', '--', 'src'])
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(3))
  const build = `${git(['rev-parse', '--short', 'HEAD']) || 'unknown'}${dirty.length > 0 ? ` + uncommitted changes in ${dirty.join(', ')}` : ''}`
  const kubectlVersion =
    spawnSync(KUBECTL, ['version', '--client'], {
      encoding: 'utf8',
      env: {PATH: process.env.PATH ?? '', HOME: '/nonexistent'},
    })
      .stdout.split('\n')[0]
      ?.trim() ?? 'unknown'
  log(`node ${machine.node}, ${machine.cpus} CPUs (${machine.cpuModel}), load ${machine.loadavg}; code ${build}`)
  const started = performance.now()
  const snapshot = snapshotCli()
  let cluster: ClusterReport | undefined
  let files: FileReport | undefined
  let webhook: WebhookReport | undefined
  let startup: StartupReport | undefined
  let firstCall: FirstCallReport | undefined
  let scale: ScaleReport | undefined
  let inspect: InspectReport | undefined
  try {
    cluster =
      only === undefined || only === 'cluster'
        ? await runClusterBench({runs: runs.cluster, cli: snapshot.cli, log})
        : undefined
    files =
      only === undefined || only === 'files'
        ? await runFileBench({runs: runs.files, cli: snapshot.cli, log})
        : undefined
    webhook =
      only === undefined || only === 'webhook'
        ? await runWebhookBench({
            runs: runs.webhook,
            backend: path.join(snapshot.root, 'dist', 'imgsec-webhook.mjs'),
            log,
          })
        : undefined
    startup = only === undefined || only === 'startup' ? runStartupBenchmark() : undefined
    firstCall =
      only === undefined || only === 'startup'
        ? await runFirstCallBench({
            runs: positive('BENCH_FIRST_CALL_RUNS', 10),
            release: process.env.BENCH_RELEASE !== '0',
            log,
          })
        : undefined
    scale =
      only === undefined || only === 'scale'
        ? await runScaleBench({
            cli: snapshot.cli,
            baseline: process.env.BENCH_BASELINE_CLI,
            sizes: (process.env.BENCH_GROWTH_SIZES ?? '5000,10000,20000,40000').split(',').map(Number),
            growthRuns: positive('BENCH_GROWTH_RUNS', 2),
            fileRuns: positive('BENCH_MANYFILES_RUNS', 3),
            fleetSizes: (process.env.BENCH_FLEET_SIZES ?? '1,4,16,48').split(',').map(Number),
            fleetNamespaces: positive('BENCH_FLEET_NAMESPACES', 20),
            log,
          })
        : undefined
    inspect = only === undefined || only === 'inspect' ? await runInspectBench({cli: snapshot.cli, log}) : undefined
  } finally {
    snapshot.dispose()
  }
  const totalMs = performance.now() - started

  const lines: string[] = ['', 'Summary']
  if (cluster) {
    lines.push(
      '',
      plainTable([
        [
          'cluster (10,000 pods)',
          'runs',
          'median',
          'min',
          'max',
          'CPU',
          'peak RSS (median, max)',
          'requests',
          'server busy',
        ],
        ...[cluster.kubectl, cluster.audit].map((r) => [
          r.label,
          ...wallCells(r.wall),
          cpuCell(r.cpu),
          r.rss ? `${mib(r.rss.median)}, ${mib(r.rss.max)}` : 'n/a',
          String(r.requests),
          r.serverBusy ? ms(r.serverBusy.median) : 'n/a',
        ]),
      ]),
    )
  }
  if (files) {
    lines.push(
      '',
      plainTable([
        [
          `files (${files.stream.objects} objects, ${(files.stream.bytes / 1024 / 1024).toFixed(1)} MiB)`,
          'runs',
          'median',
          'min',
          'max',
          'CPU',
          'peak RSS (median, max)',
        ],
        ...[
          ['yaml alone', files.yamlAlone],
          ['audit -f', files.audit],
        ].map(([label, r]) => {
          const report = r as FileReport['audit']
          return [
            label as string,
            ...wallCells(report.wall),
            cpuCell(report.cpu),
            report.rss ? `${mib(report.rss.median)}, ${mib(report.rss.max)}` : 'n/a',
          ]
        }),
      ]),
    )
  }
  if (webhook) lines.push('', plainTable(webhookSummaryRows(webhook)))
  const targets = [
    ...(cluster?.targets ?? []),
    ...(files?.targets ?? []),
    ...(webhook?.targets ?? []),
    ...(startup ? startupTargets(startup) : []),
    ...(firstCall ? firstCallTargets(firstCall) : []),
    ...(scale?.targets ?? []),
    ...(inspect?.targets ?? []),
  ]
  if (scale) lines.push('', renderScaleSection(scale))
  if (inspect) lines.push('', renderInspectSection(inspect))
  lines.push(
    '',
    plainTable(summaryRows(targets).map((r, i) => (i === 0 ? [r[3], r[0], r[2], r[1]] : [r[3], r[0], r[2], r[1]]))),
    '',
  )
  process.stdout.write(lines.join('\n') + '\n')
  if (firstCall) lines.push('', renderFirstCallSection(firstCall))
  if (cluster && files && webhook && startup && firstCall && scale && inspect) {
    writeFileSync(
      DOC,
      renderDoc(
        machine,
        cluster,
        files,
        webhook,
        startup,
        firstCall,
        scale,
        inspect,
        totalMs,
        runs,
        kubectlVersion,
        machineInfo().loadavg,
        build,
      ),
    )
    log(`wrote ${path.relative(ROOT, DOC)} (${(totalMs / 1000).toFixed(0)} s)`)
  }
  const missed = targets.filter((t) => !t.pass)
  if (missed.length > 0) log(`${missed.length} target(s) missed (reported above and in the doc; not an error)`)
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] CRASH: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})

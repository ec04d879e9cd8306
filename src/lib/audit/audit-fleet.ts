import {type AuditSummary, type Finding, summarize} from './audit.js'
import {type ClusterScope, type ImageAuditOptions, auditChecks, runImageAudit} from './audit-run.js'
import type {FindingSink} from './cluster-stream.js'
import type {CrossClusterCheck} from './checks/index.js'
import {addSpan, FindingSpool, readSpans, readTextSpans} from './finding-spool.js'
import type {FleetClusterNote} from './reporters.js'
import {connectReader} from '../cluster/connection.js'
import {type KubeTargetOptions, kubeconfigContexts, loadKubeconfig} from '../cluster/kubeconfig.js'
import {limitConcurrency} from '../concurrency.js'
import {describeFailure} from '../describe-error.js'
import {isUserError, UserError} from '../errors.js'
import {parseImageReference} from '../image/image-reference.js'
import {closestName} from '../suggest.js'

/** Which pods of a cluster: -n (else the context's namespace), -A, -l. */
export interface PodScope {
  allNamespaces: boolean
  selector?: string
}

/** One cluster's reader and scope, from a target (its context chosen): the lean reader unless the user needs client-node. */
export async function connectCluster(target: KubeTargetOptions, pods: PodScope): Promise<ClusterScope> {
  const config = loadKubeconfig(target)
  const client = await connectReader(target, config)
  return {client, namespace: pods.allNamespaces ? undefined : config.namespace, selector: pods.selector}
}

/**
 * The contexts a fleet audit reads: the named ones (each must exist in the merged kubeconfig,
 * duplicates read once) or, without names, every context.
 */
export function fleetContexts(kubeconfig: string | undefined, names: string[] | undefined): string[] {
  const known = kubeconfigContexts(kubeconfig)
  if (names === undefined) {
    if (known.names.length === 0) throw new UserError(`--all-contexts: the kubeconfig (${known.where}) has no contexts`)
    return known.names
  }
  if (names.length === 0) throw new UserError('--contexts: name at least one context (comma-separated or repeated)')
  for (const name of names) {
    if (known.names.includes(name)) continue
    const suggestion = closestName(name, known.names)
    throw new UserError(
      `--contexts: context "${name}" does not exist in the kubeconfig (${known.where}); ${suggestion ? `did you mean "${suggestion}"?` : 'list them with: kubectl config get-contexts'}`,
    )
  }
  return [...new Set(names)]
}

export interface FleetCluster extends FleetClusterNote {
  /** Why the cluster could not be audited (one line, without secrets). */
  error?: string
}

export interface FleetAuditResult {
  summary: AuditSummary
  workloads: number
  /** In the order asked. */
  clusters: FleetCluster[]
  notices: string[]
}

/**
 * Audit each context's cluster as a single-cluster run does (same reader, same streamed audit), at
 * most `maxConcurrency` at once, each finding tagged with its context as `cluster`. One cluster's
 * failure is kept as its error; the others go on. What the cross-cluster checks need is kept per
 * tag: the running digests and the contexts that run each, nothing per workload.
 *
 * The clusters answer at the same time, but the report has each cluster's findings together, in
 * the order the contexts were asked (then the cluster's cross-cluster findings): they wait in a
 * spool on disk, one file for the fleet, and only the spans of it that each cluster wrote stay in
 * memory. They reach `sink` once every cluster is read.
 */
export async function runFleetAudit(
  options: ImageAuditOptions,
  fleet: {target: KubeTargetOptions; contexts: string[]; pods: PodScope; maxConcurrency: number},
  sink: FindingSink,
): Promise<FleetAuditResult> {
  const running = new Map<string, Map<string, string[]>>()
  const observe = (context: string) => (image: string, digest: string) => {
    let tag: string
    try {
      const reference = parseImageReference(image)
      if (reference.digest) return
      tag = `${reference.registry}/${reference.repository}:${reference.tag ?? 'latest'}`
    } catch {
      return
    }
    const digests = running.get(tag) ?? new Map<string, string[]>()
    running.set(tag, digests)
    const contexts = digests.get(digest) ?? []
    digests.set(digest, contexts)
    if (!contexts.includes(context)) contexts.push(context)
  }
  const clusters: FleetCluster[] = fleet.contexts.map((name) => ({name}))
  const notices: string[] = []
  const limit = limitConcurrency(fleet.maxConcurrency)
  const spool = new FindingSpool()
  const rendered = Boolean(sink.render && sink.addRendered)
  try {
    const spans = new Map(clusters.map((cluster) => [cluster.name, [] as number[]]))
    await Promise.all(
      clusters.map(async (cluster) =>
        limit(async () => {
          // A report that renders findings alike wherever they fall gets its text parked, not the finding.
          const park = (f: Finding) =>
            rendered
              ? spool.appendText(sink.render!({...f, cluster: cluster.name}))
              : spool.append({...f, cluster: cluster.name})
          const tagging: FindingSink = {
            add: (f) => addSpan(spans.get(cluster.name)!, park(f)),
            flush: async () => {},
          }
          try {
            const scope = await connectCluster({...fleet.target, context: cluster.name}, fleet.pods)
            const result = await runImageAudit(options, {...scope, observe: observe(cluster.name)}, tagging)
            cluster.summary = result.summary
            cluster.workloads = result.workloads
            notices.push(...result.notices.map((notice) => `context "${cluster.name}": ${notice}`))
          } catch (error) {
            // The line starts with the context; a message that names it at its end would name it twice.
            const message = (isUserError(error) ? error.message : describeFailure(error)).replace(
              ` (context "${cluster.name}")`,
              '',
            )
            cluster.error = `context "${cluster.name}": ${message}`
            // A cluster that failed half-way is reported by its error alone: its counts are not in the summary.
            spans.set(cluster.name, [])
          }
        }),
      ),
    )
    const crossCluster = await crossClusterFindings(options, running, clusters)
    for (const cluster of clusters) {
      // Read back a chunk at a time, never the cluster's findings at once.
      const parked = rendered
        ? readTextSpans(spool, spans.get(cluster.name)!)
        : readSpans(spool, spans.get(cluster.name)!)
      const items = (function* () {
        yield* parked
        yield* crossCluster.get(cluster.name) ?? []
      })()
      let count = 0
      for (const item of items) {
        if (typeof item === 'string') sink.addRendered!(item)
        else sink.add(item)
        // eslint-disable-next-line no-await-in-loop -- the report's backpressure
        if (++count % 256 === 0) await sink.flush()
      }
      // eslint-disable-next-line no-await-in-loop -- the report's backpressure
      await sink.flush()
    }
  } finally {
    spool.close()
  }
  return {...fleetSummary(clusters), clusters, notices}
}

/** The cross-cluster checks' findings, per context; each audited cluster's summary counts its own. */
async function crossClusterFindings(
  options: ImageAuditOptions,
  running: Map<string, Map<string, string[]>>,
  clusters: FleetCluster[],
): Promise<Map<string, Finding[]>> {
  const found = new Map<string, Finding[]>()
  const checks = (await auditChecks(options)).filter(
    (check): check is CrossClusterCheck => check.kind === 'cross-cluster',
  )
  for (const check of checks) {
    for (const {cluster, image, message} of check.run(running)) {
      // Only an audited cluster reports what runs in it.
      const summary = clusters.find((c) => c.name === cluster)?.summary
      if (!summary) continue
      summary[check.severity]++
      summary.total++
      const list = found.get(cluster) ?? []
      found.set(cluster, list)
      list.push({
        check: check.id,
        severity: check.severity,
        resource: {kind: 'Image', name: image},
        container: '',
        image,
        message,
        fix: check.fix,
        cluster,
      })
    }
  }
  return found
}

/**
 * The fleet's totals, and each cluster's part in the order asked: its counts and workloads, or
 * the error that kept it from being audited.
 */
function fleetSummary(clusters: readonly FleetCluster[]): {summary: AuditSummary; workloads: number} {
  const summary: AuditSummary = {...summarize([]), auditedByShape: [], skipped: 0, clusters: []}
  let workloads = 0
  for (const cluster of clusters) {
    if (!cluster.summary) {
      summary.clusters!.push({cluster: cluster.name, error: cluster.error ?? 'not audited'})
      continue
    }
    const {auditedByShape, skipped: _skipped, clusters: _clusters, ...counts} = cluster.summary
    for (const key of Object.keys(counts) as Array<keyof typeof counts>) summary[key] += counts[key]
    summary.auditedByShape!.push(...(auditedByShape ?? []).map((name) => `${name} (${cluster.name})`))
    summary.clusters!.push({cluster: cluster.name, ...counts, workloads: cluster.workloads ?? 0})
    workloads += cluster.workloads ?? 0
  }
  return {summary, workloads}
}

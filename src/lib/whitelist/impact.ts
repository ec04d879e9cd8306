// Impact before change: which running pods a whitelist policy would refuse on their next UPDATE
// (a label, a finalizer removal) or when they are re-created. kube-apiserver's ImagePolicyWebhook
// plugin reviews the containers and init containers of every pod CREATE and UPDATE, with the
// pod's *.image-policy.k8s.io/* annotations and its namespace; the backend decides with
// decideImageReview. The same review is built here for every running pod.
import type {V1Pod} from '@kubernetes/client-node'

import {UserError} from '../errors.js'
import {decideImageReview, IMAGE_REVIEW_API_VERSION} from '../webhook/image-review.js'
import {type ClusterAccess, requireClient} from '../cluster/connection.js'
import {forEachRawPage, type KubeClient} from '../cluster/kube-client.js'
import type {ImagePolicy} from '../policy/policy.js'
import {describeFailure} from '../describe-error.js'

export interface RefusedWorkload {
  namespace: string
  /** Kind/name of the pod's controller (a ReplicaSet is shown as its Deployment). */
  workload: string
  pods: number
  reason: string
}

export interface ImpactReport {
  /** Pods looked at. */
  pods: number
  refused: RefusedWorkload[]
}

/** Namespaces whose refused workloads stop the change unless forced: the control plane lives there. */
export const PROTECTED_NAMESPACES = ['kube-system']

function workloadOf(pod: V1Pod): string {
  const owner = pod.metadata?.ownerReferences?.find((ref) => ref.controller) ?? pod.metadata?.ownerReferences?.[0]
  if (!owner) return `Pod/${pod.metadata?.name ?? ''}`
  const hash = pod.metadata?.labels?.['pod-template-hash']
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`))
    return `Deployment/${owner.name.slice(0, -hash.length - 1)}`
  return `${owner.kind}/${owner.name}`
}

/** The review kube-apiserver would send for an UPDATE of this pod, decided by the backend's rules. */
export function podVerdict(pod: V1Pod, policy: ImagePolicy): {allowed: boolean; reason?: string} {
  const annotations = Object.fromEntries(
    Object.entries(pod.metadata?.annotations ?? {}).filter(([key]) => key.includes('.image-policy.k8s.io/')),
  )
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((container) => ({
    image: container.image ?? '',
  }))
  const decision = decideImageReview(
    {
      apiVersion: IMAGE_REVIEW_API_VERSION,
      kind: 'ImageReview',
      spec: {containers, annotations, namespace: pod.metadata?.namespace},
    },
    policy,
  )
  // A pod with the break-glass annotation is let through (and logged): not refused.
  return {allowed: decision.response.status.allowed, reason: decision.response.status.reason}
}

/** Fold pods into the report: only refused pods are kept, grouped by workload. */
export function addToImpact(report: ImpactReport, pods: V1Pod[], policy: ImagePolicy): void {
  for (const pod of pods) {
    report.pods++
    // Mirror pods are the kubelet's copies of static pods; the kubelet runs those whatever admission says.
    if (pod.metadata?.annotations?.['kubernetes.io/config.mirror']) continue
    const verdict = podVerdict(pod, policy)
    if (verdict.allowed) continue
    const namespace = pod.metadata?.namespace ?? ''
    const workload = workloadOf(pod)
    const entry = report.refused.find((r) => r.namespace === namespace && r.workload === workload)
    if (entry) entry.pods++
    else report.refused.push({namespace, workload, pods: 1, reason: verdict.reason ?? 'refused'})
  }
}

/** Every pod of the cluster, page by page; memory holds only the refused workloads. */
export async function whitelistImpact(client: KubeClient, policy: ImagePolicy): Promise<ImpactReport> {
  const report: ImpactReport = {pods: 0, refused: []}
  await client.call({verb: 'list', resource: 'pods'}, () =>
    forEachRawPage<V1Pod>(client, '/api/v1/pods', {}, (pods) => addToImpact(report, pods, policy)),
  )
  report.refused.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.workload.localeCompare(b.workload))
  return report
}

/** What to print: a summary line, counts per namespace, then each refused workload. */
export function renderImpact(report: ImpactReport): string[] {
  if (report.refused.length === 0) return [`impact: none of the ${report.pods} running pods would be refused`]
  const pods = report.refused.reduce((sum, r) => sum + r.pods, 0)
  const perNamespace = new Map<string, number>()
  for (const r of report.refused) perNamespace.set(r.namespace, (perNamespace.get(r.namespace) ?? 0) + r.pods)
  return [
    `impact: ${pods} of ${report.pods} running pods (${report.refused.length} workloads) would be refused on their next update or re-creation: ${[...perNamespace].map(([ns, n]) => `${ns} ${n}`).join(', ')}`,
    ...report.refused.map(
      (r) => `  ${r.namespace}/${r.workload} (${r.pods} pod${r.pods === 1 ? '' : 's'}): ${r.reason}`,
    ),
  ]
}

/** Refused workloads in the control plane's namespaces: reasons to stop unless forced. */
export function impactProblems(report: ImpactReport): string[] {
  return report.refused
    .filter((r) => PROTECTED_NAMESPACES.includes(r.namespace))
    .map((r) => `${r.namespace}/${r.workload} would be refused (${r.reason})`)
}

/**
 * The impact report for a whitelist change, when a cluster is reachable through the kubeconfig:
 * its lines to print, or a UserError when control-plane workloads would be refused (unless forced).
 */
export async function checkImpact(
  policy: ImagePolicy,
  cluster: ClusterAccess,
  options: {force: boolean; timeoutMs?: number},
): Promise<string[]> {
  if (!cluster.configured)
    return [
      'impact: not checked (no cluster in the kubeconfig; on a control-plane node pass --kubeconfig /etc/kubernetes/admin.conf)',
    ]
  let report: ImpactReport
  try {
    const client = requireClient(cluster)
    const timeoutMs = options.timeoutMs ?? 30_000
    report = await Promise.race([
      whitelistImpact(client, policy),
      new Promise<never>((_, reject) => {
        setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs).unref()
      }),
    ])
  } catch (error) {
    return [`impact: not checked (${describeFailure(error)})`]
  }
  const lines = renderImpact(report)
  const problems = impactProblems(report)
  if (problems.length > 0 && !options.force) {
    throw new UserError(
      `refusing a policy that would refuse control-plane workloads on their next update or re-creation (nothing was changed):\n  ${problems.join('\n  ')}\nallow their registries, keep ${PROTECTED_NAMESPACES.join(', ')} in exemptNamespaces, or pass --force`,
    )
  }
  return [...lines, ...problems.map((problem) => `forced despite: ${problem}`)]
}

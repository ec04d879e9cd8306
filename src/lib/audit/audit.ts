import {
  type AuditContext,
  type Check,
  type CheckResult,
  CHECK_IDS,
  CHECKS,
  CONTAINER_CHECKS,
  type ContainerCheck,
  type ContainerInstance,
  type ContainerTarget,
  type RunContext,
  SEVERITIES,
  type Severity,
} from './checks/index.js'
import type {DockerCredential} from '../image/docker-config.js'
import {UserError} from '../errors.js'
import {globToRegExp} from '../glob.js'
import type {ManifestObject} from './manifest-files.js'
import {evaluateImage, type ImagePolicy} from '../policy/policy.js'
import {closestName} from '../suggest.js'
import {containersOf, type Workload} from './workloads.js'
import {splitCommaList} from '../comma-list.js'

export interface Finding {
  check: string
  severity: Severity
  resource: {kind: string; namespace?: string; name: string}
  container: string
  image: string
  message: string
  fix: string
  file?: string
  line?: number
  /** Fleet audits (`--contexts`): the kubeconfig context of the cluster the finding is in. */
  cluster?: string
}

export interface AuditSummary {
  critical: number
  high: number
  medium: number
  low: number
  info: number
  total: number
  /** Findings the policy (exemptNamespaces, exemptImages, exemptions) or an imgsec.io/ignore annotation accepted: not in `total`. */
  exempted: number
  /** Set by the run: workloads of kinds the tool does not know, audited by their pod template (`Rollout default/web`). */
  auditedByShape?: string[]
  /** Set by the run: objects without a pod template (ConfigMap, Service, …), not audited. */
  skipped?: number
  /** A fleet audit's clusters, in the order asked: each one's counts and workloads, or its error. */
  clusters?: ClusterSummary[]
}

/** One cluster's part of a fleet audit's summary. */
export type ClusterSummary =
  | ({cluster: string; workloads: number} & Pick<AuditSummary, Severity | 'total' | 'exempted'>)
  | {cluster: string; error: string}

/** One workload to audit, with its containers walked once (`containerTargets`). */
export interface AuditedWorkload {
  workload: Workload
  context: AuditContext
  /** Every container of the workload; per-container checks, `--fix` and the file instances read these. */
  targets: ContainerTarget[]
  /** File sources: the object the workload was read from (lines for findings, scalars for `--fix`). */
  manifest?: Pick<ManifestObject, 'file' | 'lineOf' | 'scalarAt'>
  /** Registry credentials the pod may use (cluster: its pull secrets), for asking registries about its images. Never printed. */
  credentials?: DockerCredential[]
}

/** What a source (files or a cluster) hands to the checks. */
export interface AuditInput {
  workloads: AuditedWorkload[]
  /** Every container as it runs, for cross-workload checks (cluster: one per container of each pod). */
  instances: ContainerInstance[]
  /** File sources: objects without a pod template (ConfigMap, Service, Secret, …), not audited. */
  skipped?: number
}

/** Workload annotation with which a team exempts itself: `check-id,container/check-id`. */
export const IGNORE_ANNOTATION = 'imgsec.io/ignore'

/** Is `checkId` exempted for `container` by the workload's annotation? */
export function isIgnoredByAnnotation(
  annotations: Record<string, string>,
  container: string,
  checkId: string,
): boolean {
  const value = annotations[IGNORE_ANNOTATION]
  if (typeof value !== 'string') return false
  return splitCommaList(value).some(
    (entry) => entry === checkId || entry === `${container}/${checkId}` || entry === '*' || entry === `${container}/*`,
  )
}

function globMatches(pattern: string | undefined, value: string | undefined): boolean {
  if (pattern === undefined) return true
  return globToRegExp(pattern).test(value ?? '')
}

/** Is this finding accepted by an `exemptions` entry of the policy file? */
export function isExemptByPolicy(
  exemptions: ImagePolicy['exemptions'],
  workload: Workload,
  container: string,
  checkId: string,
): boolean {
  return exemptions.some(
    (e) =>
      e.check === checkId &&
      globMatches(e.namespace, workload.namespace) &&
      globMatches(e.kind, workload.kind) &&
      globMatches(e.name, workload.name) &&
      globMatches(e.container, container),
  )
}

/** Has the workload (annotation) or the policy file (exemptions) accepted this check for this container? */
function isExempt(policy: ImagePolicy, workload: Workload, container: string, checkId: string): boolean {
  return (
    (policy.allowAnnotationExemptions && isIgnoredByAnnotation(workload.annotations, container, checkId)) ||
    isExemptByPolicy(policy.exemptions, workload, container, checkId)
  )
}

/**
 * The one walk over a workload's containers: each with its name, image, where the image is
 * written, and the policy's verdict. The verdict is the one without the policy's namespace and
 * image exemptions, which `exempt` records instead: the audit counts what they hide.
 */
export function containerTargets(workload: Workload, policy: ImagePolicy): ContainerTarget[] {
  const unexempted = {...policy, exemptNamespaces: [], exemptImages: []}
  return containersOf(workload.podSpec).map(({field, index, container}) => {
    const image = typeof container.image === 'string' ? container.image : ''
    const verdict = evaluateImage(image, {namespace: workload.namespace}, unexempted)
    const {exempt} = evaluateImage(image, {namespace: workload.namespace}, policy)
    const name = typeof container.name === 'string' ? container.name : `${field}[${index}]`
    return {
      workload,
      field,
      index,
      container,
      name,
      image,
      imagePath: [...workload.podSpecPath, field, index, 'image'],
      reference: verdict.reference,
      verdict,
      ...(exempt ? {exempt} : {}),
    }
  })
}

/**
 * Which checks the policy's `exemptNamespaces` and `exemptImages` cover: the image checks (the
 * admission rules and the other `image-*` checks), never the hardening checks (privileged,
 * capabilities, root, …): an exempt image can still run privileged.
 */
export function isImageCheck(checkId: string): boolean {
  return checkId.startsWith('image-')
}

/** Findings the policy or annotations accepted, counted so that nothing disappears silently. */
export interface ExemptionTally {
  exempted: number
}

function finding(
  check: Check,
  result: CheckResult,
  where: {workload: Workload; container: string; image: string; file?: string; line?: number},
): Finding {
  const {message, severity} = typeof result === 'string' ? {message: result, severity: check.severity} : result
  const {kind, namespace, name} = where.workload
  return {
    check: check.id,
    severity,
    resource: {kind, namespace, name},
    container: where.container,
    image: where.image,
    message,
    fix: check.fix,
    ...(where.file === undefined ? {} : {file: where.file, line: where.line}),
  }
}

/** Run the per-container checks on every container of one workload. Pure. */
export function auditWorkload(
  unit: Omit<AuditedWorkload, 'targets'> & {targets?: ContainerTarget[]},
  checks: readonly ContainerCheck[] = CONTAINER_CHECKS,
  tally: ExemptionTally = {exempted: 0},
): Finding[] {
  const {workload, context} = unit
  const findings: Finding[] = []
  for (const target of unit.targets ?? containerTargets(workload, context.policy)) {
    for (const check of checks) {
      const results = check.run(target, context)
      if ((target.exempt && isImageCheck(check.id)) || isExempt(context.policy, workload, target.name, check.id)) {
        tally.exempted += results.length
        continue
      }
      for (const result of results) {
        // Image checks point at the image line, the others at the container.
        const path = check.id.startsWith('image-') ? target.imagePath : target.imagePath.slice(0, -1)
        const location = unit.manifest && {file: unit.manifest.file, line: unit.manifest.lineOf(path)}
        findings.push(finding(check, result, {workload, container: target.name, image: target.image, ...location}))
      }
    }
  }
  return findings
}

/**
 * Every check on the input: per-container checks workload by workload, then cross-workload checks
 * on all containers at once. Exemptions (annotation, policy file) apply to both kinds. Pure.
 */
export function runChecks(
  input: AuditInput,
  policy: ImagePolicy,
  checks: readonly Check[] = CHECKS,
  context: RunContext = {},
  tally: ExemptionTally = {exempted: 0},
): Finding[] {
  const containerChecks = checks.filter((check): check is ContainerCheck => check.kind === 'container')
  const findings = input.workloads.flatMap((unit) => auditWorkload(unit, containerChecks, tally))
  findings.push(...runCrossWorkloadChecks(input.instances, policy, checks, context, tally))
  return findings
}

/** The cross-workload checks on every container of the run; exemptions apply as to the per-container checks. Pure. */
export function runCrossWorkloadChecks(
  instances: readonly ContainerInstance[],
  policy: ImagePolicy,
  checks: readonly Check[],
  context: RunContext = {},
  tally: ExemptionTally = {exempted: 0},
): Finding[] {
  const findings: Finding[] = []
  for (const check of checks) {
    if (check.kind !== 'cross-workload') continue
    for (const {instance, result} of check.run(instances, context)) {
      const imageExempt =
        isImageCheck(check.id) &&
        evaluateImage(instance.image, {namespace: instance.workload.namespace}, policy).exempt !== undefined
      if (imageExempt || isExempt(policy, instance.workload, instance.container, check.id)) {
        tally.exempted++
        continue
      }
      findings.push(finding(check, result, instance))
    }
  }
  return findings
}

/** The registry without the checks `--ignore-check` names; an unknown ID is a usage error (with a did-you-mean). */
export function checksWithout(ignored: readonly string[]): readonly Check[] {
  for (const id of ignored) {
    if (CHECK_IDS.includes(id)) continue
    const suggestion = closestName(id, CHECK_IDS)
    throw new UserError(
      `--ignore-check: unknown check "${id}"; ${suggestion ? `did you mean "${suggestion}"?` : `the checks are ${CHECK_IDS.join(', ')}`}`,
    )
  }
  return CHECKS.filter((check) => !ignored.includes(check.id))
}

export function summarize(findings: Finding[], exempted = 0): AuditSummary {
  const summary: AuditSummary = {critical: 0, high: 0, medium: 0, low: 0, info: 0, total: findings.length, exempted}
  for (const finding of findings) summary[finding.severity]++
  return summary
}

/** Does the summary count a finding at or above the --fail-on threshold? */
export function summaryReaches(summary: AuditSummary, failOn: Severity | 'none'): boolean {
  if (failOn === 'none') return false
  return SEVERITIES.slice(0, SEVERITIES.indexOf(failOn) + 1).some((severity) => summary[severity] > 0)
}

import {CONTAINER_CHECKS, type AuditContext, type Check, type ContainerTarget, SEVERITIES, type Severity} from './checks/index.js'
import {type DockerCredential, pullSecretServers} from '../image/docker-config.js'
import {globToRegExp} from '../glob.js'
import type {ManifestObject} from './manifest-files.js'
import {evaluateImage, type ImagePolicy} from '../policy/policy.js'
import {containersOf, type Path, type Workload, workloadOf} from './workloads.js'

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
}

/** One container as audited, for checks that work on distinct images (the vulnerability scan). */
export interface AuditedContainer {
  resource: Finding['resource']
  container: string
  image: string
  /** Digest the container really runs (cluster: from status.containerStatuses[].imageID). */
  runningDigest?: string
  /** Registry credentials the pod may use (cluster: its pull secrets), for asking the registry about the image. Never printed. */
  credentials?: DockerCredential[]
  file?: string
  line?: number
}

export interface AuditSummary {
  critical: number
  high: number
  medium: number
  low: number
  total: number
}

/** Workload annotation with which a team exempts itself: `check-id,container/check-id`. */
export const IGNORE_ANNOTATION = 'imgsec.io/ignore'

/** Is `checkId` exempted for `container` by the workload's annotation? */
export function isIgnoredByAnnotation(annotations: Record<string, string>, container: string, checkId: string): boolean {
  const value = annotations[IGNORE_ANNOTATION]
  if (typeof value !== 'string') return false
  return value.split(',').map((entry) => entry.trim()).some((entry) => entry === checkId || entry === `${container}/${checkId}` || entry === '*' || entry === `${container}/*`)
}

function globMatches(pattern: string | undefined, value: string | undefined): boolean {
  if (pattern === undefined) return true
  return globToRegExp(pattern).test(value ?? '')
}

/** Is this finding accepted by an `exemptions` entry of the policy file? */
export function isExemptByPolicy(exemptions: ImagePolicy['exemptions'], workload: Workload, container: string, checkId: string): boolean {
  return exemptions.some((e) => e.check === checkId && globMatches(e.namespace, workload.namespace) && globMatches(e.kind, workload.kind) && globMatches(e.name, workload.name) && globMatches(e.container, container))
}

export interface WorkloadUnit {
  workload: Workload
  context: AuditContext
  /** Where a field of the workload is written (file sources). */
  locate?: (path: Path) => {file: string; line: number}
}

/** Run every check on every container of one workload. Pure. */
export function auditWorkload(unit: WorkloadUnit, checks: readonly Check[] = CONTAINER_CHECKS): Finding[] {
  const {workload, context} = unit
  const findings: Finding[] = []
  const allowSelfExemption = context.policy.allowAnnotationExemptions
  for (const {field, index, container} of containersOf(workload.podSpec)) {
    const image = typeof container.image === 'string' ? container.image : ''
    const verdict = evaluateImage(image, {namespace: workload.namespace}, context.policy)
    if (verdict.exempt) continue
    const target: ContainerTarget = {workload, field, container, image, reference: verdict.reference, verdict}
    const name = typeof container.name === 'string' ? container.name : `${field}[${index}]`
    for (const check of checks) {
      if (allowSelfExemption && isIgnoredByAnnotation(workload.annotations, name, check.id)) continue
      if (isExemptByPolicy(context.policy.exemptions, workload, name, check.id)) continue
      for (const result of check.run(target, context)) {
        const {message, severity} = typeof result === 'string' ? {message: result, severity: check.severity} : result
        const location = unit.locate?.([...workload.podSpecPath, field, index, ...(check.id.startsWith('image-') ? ['image'] : [])])
        findings.push({
          check: check.id,
          severity,
          resource: {kind: workload.kind, namespace: workload.namespace, name: workload.name},
          container: name,
          image,
          message,
          fix: check.fix,
          ...(location ? {file: location.file, line: location.line} : {}),
        })
      }
    }
  }
  return findings
}

export function summarize(findings: Finding[]): AuditSummary {
  const summary: AuditSummary = {critical: 0, high: 0, medium: 0, low: 0, total: findings.length}
  for (const finding of findings) summary[finding.severity]++
  return summary
}

/** Does any finding reach the --fail-on threshold? */
export function reachesThreshold(findings: Finding[], failOn: Severity | 'none'): boolean {
  if (failOn === 'none') return false
  const limit = SEVERITIES.indexOf(failOn)
  return findings.some((finding) => SEVERITIES.indexOf(finding.severity) <= limit)
}

/**
 * Audit objects read from files. Secrets and ServiceAccounts found in the same files tell which
 * pull secrets a pod can use, as they would in the cluster.
 */
export function auditManifests(objects: ManifestObject[], policy: ImagePolicy): {findings: Finding[]; containers: AuditedContainer[]} {
  const key = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`
  const secretServers = new Map<string, string[]>()
  const accountSecrets = new Map<string, string[]>()
  for (const {object} of objects) {
    const name = object?.metadata?.name
    if (typeof name !== 'string') continue
    if (object.kind === 'Secret') secretServers.set(key(object.metadata.namespace, name), pullSecretServers(object))
    if (object.kind === 'ServiceAccount') {
      accountSecrets.set(key(object.metadata.namespace, name), (object.imagePullSecrets ?? []).map((ref: {name?: string}) => ref?.name).filter(Boolean))
    }
  }
  const findings: Finding[] = []
  const containers: AuditedContainer[] = []
  for (const manifest of objects) {
    const workload = workloadOf(manifest.object)
    if (!workload) continue
    for (const {field, index, container} of containersOf(workload.podSpec)) {
      containers.push({
        resource: {kind: workload.kind, namespace: workload.namespace, name: workload.name},
        container: container.name ?? `${field}[${index}]`,
        image: container.image ?? '',
        file: manifest.file,
        line: manifest.lineOf([...workload.podSpecPath, field, index, 'image']),
      })
    }
    const account = workload.podSpec.serviceAccountName ?? workload.podSpec.serviceAccount ?? 'default'
    const names = [
      ...(workload.podSpec.imagePullSecrets ?? []).map((ref) => ref?.name).filter((n): n is string => typeof n === 'string'),
      ...(accountSecrets.get(key(workload.namespace, account)) ?? []),
    ]
    const known = names.every((name) => secretServers.has(key(workload.namespace, name)))
    findings.push(...auditWorkload({
      workload,
      context: {
        mode: 'file',
        policy,
        usablePullSecretNames: names,
        usablePullSecretServers: known && names.length > 0 ? names.flatMap((name) => secretServers.get(key(workload.namespace, name)) ?? []) : undefined,
      },
      locate: (path) => ({file: manifest.file, line: manifest.lineOf(path)}),
    }))
  }
  return {findings, containers}
}

/**
 * `image-vulnerable` findings from a scanner, once per distinct image (by the digest a container
 * really runs when known), reported on every container that uses it.
 */
export async function vulnerabilityFindings(
  containers: AuditedContainer[],
  scan: (image: string) => Promise<{severity?: Severity; message: string} | undefined>,
  check: {id: string; fix: string},
): Promise<Finding[]> {
  const scanTarget = (c: AuditedContainer) => {
    if (!c.runningDigest) return c.image
    const at = c.image.indexOf('@')
    return `${at >= 0 ? c.image.slice(0, at) : c.image.replace(/:[^/:]+$/, '')}@${c.runningDigest}`
  }
  const results = new Map<string, Promise<{severity?: Severity; message: string} | undefined>>()
  for (const c of containers) {
    const target = scanTarget(c)
    if (c.image && !results.has(target)) results.set(target, scan(target))
  }
  const findings: Finding[] = []
  for (const c of containers) {
    if (!c.image) continue
    // eslint-disable-next-line no-await-in-loop -- the scans already run; this only collects them in order
    const result = await results.get(scanTarget(c))
    if (!result?.severity) continue
    findings.push({check: check.id, severity: result.severity, resource: c.resource, container: c.container, image: c.image, message: result.message, fix: check.fix, ...(c.file === undefined ? {} : {file: c.file, line: c.line})})
  }
  return findings
}

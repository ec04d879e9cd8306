import type {ImageReference} from '../../image/image-reference.js'
import type {ImagePolicy, ImageVerdict} from '../../policy/policy.js'
import type {Container, ContainerField, Workload} from '../workloads.js'

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const
export type Severity = (typeof SEVERITIES)[number]

/** What the audit knows around one container. */
export interface AuditContext {
  mode: 'cluster' | 'file'
  policy: ImagePolicy
  /**
   * Registry servers of the pull secrets this pod can use (its own imagePullSecrets plus its
   * service account's), when they are known (cluster mode, or Secrets present in the files).
   */
  usablePullSecretServers?: string[]
  /** Names of the pull secrets the pod references, directly or through its service account. */
  usablePullSecretNames: string[]
  /** Cluster mode: servers of every docker-registry Secret in the namespace. */
  namespacePullSecretServers?: string[]
}

/** One container of one workload, with its image already judged by the policy engine. */
export interface ContainerTarget {
  workload: Workload
  field: ContainerField
  container: Container
  image: string
  reference?: ImageReference
  verdict: ImageVerdict
}

/** What a report says about a check: its ID, default severity, title and fix. */
export interface CheckInfo {
  id: string
  severity: Severity
  title: string
  fix: string
}

/** A named unit with an ID, a severity and a pure function from a container to messages (kube-score style). */
export interface Check extends CheckInfo {
  /** Messages for this container; empty when it passes. The severity may be raised by the policy. */
  run(target: ContainerTarget, context: AuditContext): Array<string | {message: string; severity: Severity}>
}

/** Container securityContext fields override the pod's (Kubernetes' own precedence). */
export function effectiveSecurityField(target: ContainerTarget, field: 'runAsNonRoot' | 'runAsUser' | 'runAsGroup' | 'seccompProfile'): unknown {
  const own = target.container.securityContext?.[field]
  if (own !== undefined && own !== null) return own
  return target.workload.podSpec.securityContext?.[field]
}

/** The messages of the policy engine's verdict for one of its rules: the image checks the admission backend shares. */
export function policyRuleMessages(rule: string): Check['run'] {
  return ({verdict}) => verdict.violations.filter((violation) => violation.rule === rule).map((violation) => violation.message)
}

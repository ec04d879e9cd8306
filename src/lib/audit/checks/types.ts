import type {ImageFacts} from '../../image/image-facts.js'
import type {ImageReference} from '../../image/image-reference.js'
import type {ImagePolicy, ImageVerdict} from '../../policy/policy.js'
import type {SignatureVerdict} from '../../signature/verify.js'
import type {Container, ContainerField, Path, Workload} from '../workloads.js'

// Most severe first: --fail-on X fails on X and everything before it. `info` is worth knowing, not a
// problem: it fails a run only with --fail-on info.
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const
export type Severity = (typeof SEVERITIES)[number]

/** Where each check is documented: one section per check ID in docs/checks.md (its anchor is the ID). */
export const CHECKS_DOC_URL = 'https://github.com/kubectl-imgsec/kubectl-imgsec/blob/main/docs/checks.md'

/** The stable help URL of a check (SARIF `helpUri`): the section of docs/checks.md named by its ID. */
export function checkHelpUri(id: string): string {
  return `${CHECKS_DOC_URL}#${id}`
}

/** What the audit knows around one workload. */
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
  /** `--inspect`: what each image (as written) holds, one entry per platform read; set by the run. */
  inspected?: InspectedImages
}

/** The facts `--inspect` read, by image as written, and when (for the age check). */
export interface InspectedImages {
  facts: ReadonlyMap<string, readonly ImageFacts[]>
  /** Epoch ms of the run. */
  now: number
}

/** The facts of this container's image (one per platform read), or none without `--inspect`. */
export function factsOf(target: ContainerTarget, context: AuditContext): readonly ImageFacts[] {
  return context.inspected?.facts.get(target.image) ?? []
}

/** `image app:1` or `image app:1 (linux/arm64)` when several platforms were read. */
export function imageLabel(facts: ImageFacts, all: readonly ImageFacts[]): string {
  return `image ${facts.image}${all.length > 1 && facts.platform ? ` (${facts.platform})` : ''}`
}

/** One container of one workload, with its image already judged by the policy engine. */
export interface ContainerTarget {
  workload: Workload
  field: ContainerField
  index: number
  container: Container
  /** The container's name, or `field[index]` when it has none. */
  name: string
  image: string
  /** Where the image is written inside the object (for file locations and `--fix`). */
  imagePath: Path
  reference?: ImageReference
  /** The policy's verdict on the image, without its namespace and image exemptions. */
  verdict: ImageVerdict
  /** Set when the policy exempts this container's namespace or image: its image checks do not count. */
  exempt?: 'namespace' | 'image'
}

/**
 * One container as it runs, for checks across workloads: in a cluster one per container of each
 * pod (replicas of a workload each count), from files one per container of each workload.
 */
export interface ContainerInstance {
  workload: Workload
  /** The container's name (as in findings). */
  container: string
  image: string
  /** Digest the container really runs (cluster: from status.containerStatuses[].imageID). */
  runningDigest?: string
  /** How many pods this record stands for (the streamed cluster audit folds a workload's identical containers); 1 when absent. */
  pods?: number
  /** File sources: where the image is written. */
  file?: string
  line?: number
}

/** A check's rule metadata (trivy style): what a report, SARIF and docs/checks.md say about it. */
export interface CheckRule {
  /** Stable ID: used in findings, `--ignore-check`, `imgsec.io/ignore` and policy exemptions. */
  id: string
  /** Default severity (a check may raise it for one finding). */
  severity: Severity
  /** One line: what is wrong. */
  title: string
  /** Why it matters, in a few sentences. */
  description: string
  /** Recommended action. */
  fix: string
  /** Stable documentation URL (see `checkHelpUri`). */
  helpUri: string
}

export type CheckResult = string | {message: string; severity: Severity}

/** A pure function from one container to messages (kube-score style). */
export interface ContainerCheck extends CheckRule {
  kind: 'container'
  /** Messages for this container; empty when it passes. The severity may be raised by the policy. */
  run(target: ContainerTarget, context: AuditContext): CheckResult[]
}

/** What a cross-workload check knows besides the containers: results of I/O done before the checks. */
export interface RunContext {
  /** `--scan`: the scanner's verdict per scanned image (see `scanTargetOf`); absent without --scan. */
  vulnerabilities?: ReadonlyMap<string, {severity?: Severity; message: string} | undefined>
  /** `--verify-signatures`: the signature verdict per verified image (see `scanTargetOf`). */
  signatures?: ReadonlyMap<string, SignatureVerdict>
}

/** A pure function from every container of the run to findings on some of them. */
export interface CrossWorkloadCheck extends CheckRule {
  kind: 'cross-workload'
  run(
    containers: readonly ContainerInstance[],
    context: RunContext,
  ): Array<{instance: ContainerInstance; result: CheckResult}>
}

/** What runs across a fleet: per tag (`registry/repository:tag`), per running digest, the contexts that run it. */
export type FleetDigests = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>

/** A pure function from what runs in every cluster of a fleet audit (`--contexts`) to findings per cluster. */
export interface CrossClusterCheck extends CheckRule {
  kind: 'cross-cluster'
  run(running: FleetDigests): Array<{cluster: string; image: string; message: string}>
}

export type Check = ContainerCheck | CrossWorkloadCheck | CrossClusterCheck

/** Container securityContext fields override the pod's (Kubernetes' own precedence). */
export function effectiveSecurityField(
  target: ContainerTarget,
  field: 'runAsNonRoot' | 'runAsUser' | 'runAsGroup' | 'seccompProfile',
): unknown {
  const own = target.container.securityContext?.[field]
  if (own !== undefined && own !== null) return own
  return target.workload.podSpec.securityContext?.[field]
}

/** The messages of the policy engine's verdict for one of its rules: the image checks the admission backend shares. */
export function policyRuleMessages(rule: string): ContainerCheck['run'] {
  return ({verdict}) =>
    verdict.violations.filter((violation) => violation.rule === rule).map((violation) => violation.message)
}

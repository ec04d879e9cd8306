/**
 * Where each workload kind keeps its pod template. One table, used by the audit (files and
 * cluster) and anything else that needs "the pod spec of this object".
 */

export type Path = Array<string | number>

const POD_SPEC_PATHS: Record<string, Path> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  PodTemplate: ['template', 'spec'],
}

export const WORKLOAD_KINDS = Object.keys(POD_SPEC_PATHS)

// Kinds the tool does not know (Argo Rollout, OpenShift DeploymentConfig, Knative Service, any CRD)
// are audited when they carry a pod template where the built-in kinds do.
const SHAPE_PATHS: Path[] = [
  ['spec', 'template', 'spec'],
  ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
]

const isMapping = (value: unknown): boolean => value !== null && typeof value === 'object' && !Array.isArray(value)

/** Where the object keeps its pod spec: by kind, else by shape (`byShape`); undefined when it has none. */
export function podSpecPathOf(object: Record<string, any>): {path: Path; byShape: boolean} | undefined {
  const kind = object?.kind
  if (typeof kind !== 'string') return undefined
  if (POD_SPEC_PATHS[kind]) return {path: POD_SPEC_PATHS[kind], byShape: false}
  // A template without containers is not a pod's (KubeVirt's VirtualMachine has spec.template.spec too).
  const path = SHAPE_PATHS.find(
    (candidate) => isMapping(getIn(object, candidate)) && getIn(object, [...candidate, 'containers']) !== undefined,
  )
  return path && {path, byShape: true}
}

export const CONTAINER_FIELDS = ['initContainers', 'containers', 'ephemeralContainers'] as const
export type ContainerField = (typeof CONTAINER_FIELDS)[number]

export interface Container {
  name?: string
  image?: string
  imagePullPolicy?: string
  securityContext?: Record<string, any>
  resources?: {limits?: Record<string, unknown>; requests?: Record<string, unknown>}
  [key: string]: unknown
}

export interface PodSpec {
  containers?: Container[]
  initContainers?: Container[]
  ephemeralContainers?: Container[]
  imagePullSecrets?: Array<{name?: string}>
  serviceAccountName?: string
  serviceAccount?: string
  securityContext?: Record<string, any>
  [key: string]: unknown
}

export interface Workload {
  kind: string
  apiVersion?: string
  namespace?: string
  name: string
  /** The workload's own annotations (where imgsec.io/ignore lives). */
  annotations: Record<string, string>
  podSpec: PodSpec
  /** Path of the pod spec inside the object, for locating lines in files. */
  podSpecPath: Path
  /** A kind the tool does not know, audited because it has a pod template (`spec.template.spec`). */
  byShape?: boolean
}

/** What a kept workload record has in place of its pod spec: one object, never written to. */
const NO_POD_SPEC: PodSpec = Object.freeze({})

/**
 * A workload's record once its pod spec is checked, kept for the cross-workload checks and
 * exemptions to the end of an audit: everything but the pod spec. Spelled out, not spread: a
 * literal keeps its fields inside the object (no separate property store).
 */
export function withoutPodSpec(workload: Workload): Workload {
  const {kind, apiVersion, namespace, name, annotations, podSpecPath, byShape} = workload
  const kept: Workload = {kind, apiVersion, namespace, name, annotations, podSpec: NO_POD_SPEC, podSpecPath}
  if (byShape) kept.byShape = byShape
  return kept
}

/** `Kind namespace/name` (or `Kind name`), as the report lists a workload audited by its shape. */
export function workloadLabel(workload: Pick<Workload, 'kind' | 'namespace' | 'name'>): string {
  return `${workload.kind} ${workload.namespace ? `${workload.namespace}/` : ''}${workload.name}`
}

export function getIn(object: unknown, path: Path): unknown {
  let current = object
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<string | number, unknown>)[key]
  }
  return current
}

/** The workload view of a Kubernetes object, or undefined when it has no pod template. */
export function workloadOf(object: Record<string, any>): Workload | undefined {
  const found = podSpecPathOf(object)
  if (!found) return undefined
  const {path, byShape} = found
  const kind = object.kind as string
  const podSpec = getIn(object, path)
  if (!isMapping(podSpec)) return undefined
  const metadata = (object.metadata ?? {}) as Record<string, any>
  return {
    kind,
    apiVersion: typeof object.apiVersion === 'string' ? object.apiVersion : undefined,
    namespace: typeof metadata.namespace === 'string' ? metadata.namespace : undefined,
    name:
      typeof metadata.name === 'string'
        ? metadata.name
        : typeof metadata.generateName === 'string'
          ? `${metadata.generateName}*`
          : '(unnamed)',
    annotations: metadata.annotations && typeof metadata.annotations === 'object' ? metadata.annotations : {},
    podSpec: podSpec as PodSpec,
    podSpecPath: path,
    ...(byShape ? {byShape} : {}),
  }
}

/**
 * The pull secrets a pod can use: its own imagePullSecrets plus those of its service account
 * (`default` when none is named), as the kubelet combines them. `accountSecrets` answers for a
 * service account name; each name once, in that order.
 */
export function usablePullSecrets(
  podSpec: PodSpec,
  accountSecrets: (serviceAccount: string) => readonly string[] | undefined,
): string[] {
  const account = podSpec.serviceAccountName ?? podSpec.serviceAccount ?? 'default'
  const own = (podSpec.imagePullSecrets ?? []).map((ref) => ref?.name)
  return [...new Set([...own, ...(accountSecrets(account) ?? [])])].filter(
    (name): name is string => typeof name === 'string' && name !== '',
  )
}

/** Every container of a pod spec with where it sits: init, regular and ephemeral containers. */
export function containersOf(podSpec: PodSpec): Array<{field: ContainerField; index: number; container: Container}> {
  const result: Array<{field: ContainerField; index: number; container: Container}> = []
  for (const field of CONTAINER_FIELDS) {
    const list = podSpec[field]
    if (!Array.isArray(list)) continue
    list.forEach((container, index) => {
      if (container && typeof container === 'object') result.push({field, index, container})
    })
  }
  return result
}

/** Objects inside `List` kinds (kubectl get -o yaml output) are flattened. */
export function flattenLists(object: Record<string, any>): Array<{object: Record<string, any>; path: Path}> {
  if (typeof object?.kind === 'string' && object.kind.endsWith('List') && Array.isArray(object.items)) {
    return object.items.flatMap((item: Record<string, any>, index: number) =>
      flattenLists(item).map((inner) => ({object: inner.object, path: ['items', index, ...inner.path]})),
    )
  }
  return [{object, path: []}]
}

import type {V1Secret, V1ServiceAccount} from '@kubernetes/client-node'

import {type AuditedWorkload, IGNORE_ANNOTATION} from './audit.js'
import type {ContainerTarget} from './checks/index.js'
import {type DockerCredential, pullSecretCredentials, pullSecretServers} from '../image/docker-config.js'
import type {ApiReader} from '../cluster/api-reader.js'
import {apiStatusOf, describeApiError, forEachRawPage} from '../cluster/kube-client.js'
import type {ImagePolicy} from '../policy/policy.js'
import {usablePullSecrets, type Workload} from './workloads.js'
import {stringPool} from '../string-pool.js'

interface OwnerRef {
  kind: string
  name: string
  uid?: string
  controller?: boolean
}
interface ObjectMeta {
  name?: string
  namespace?: string
  uid?: string
  annotations?: Record<string, string>
  ownerReferences?: OwnerRef[]
}

/** Controllers of pods (and of their controllers), by `kind/namespace/name`: only what folding needs. */
export type OwnerIndex = Map<
  string,
  {controller?: Pick<OwnerRef, 'kind' | 'name'>; annotations?: Record<string, string>}
>

const key = (kind: string, ns: string | undefined, name: string | undefined) => `${kind}/${ns ?? ''}/${name ?? ''}`

export function controllerOf(meta: ObjectMeta | undefined): OwnerRef | undefined {
  return meta?.ownerReferences?.find((ref) => ref.controller) ?? meta?.ownerReferences?.[0]
}

/** A pod as the audit reads it raw from the API (no client-node model). */
export interface RawPod {
  metadata?: {name?: string; namespace?: string; annotations?: Record<string, string>; ownerReferences?: any[]}
  spec?: Workload['podSpec']
  status?: Record<string, Array<{name?: string; imageID?: string}> | undefined>
}

const STATUS_FIELDS = ['initContainerStatuses', 'containerStatuses', 'ephemeralContainerStatuses']

/** The digest the pod's container `name` runs, from its status (init, app or ephemeral), if known. */
export function runningDigestOf(pod: RawPod, name: string | undefined): string | undefined {
  for (const field of STATUS_FIELDS) {
    const status = pod.status?.[field]?.find((s) => s.name === name)
    if (status) return digestOfImageId(status.imageID)
  }
  return undefined
}

/** Digest part of a containerStatus imageID (`docker-pullable://nginx@sha256:…`, `docker.io/library/nginx@sha256:…`, `sha256:…`). */
export function digestOfImageId(imageId: string | undefined): string | undefined {
  const match = imageId ? /(sha256:[a-f0-9]{64})/.exec(imageId) : null
  return match?.[1]
}

/**
 * The workload a pod is reported under: its controller, or the controller's controller when that
 * is a Deployment (pod → ReplicaSet → Deployment) or a CronJob (pod → Job → CronJob); the pod
 * itself when nothing controls it. Annotations are the workload's (where imgsec.io/ignore lives).
 */
export function workloadOwner(
  pod: {metadata?: ObjectMeta},
  owners: OwnerIndex,
): {kind: string; name: string; annotations: Record<string, string>} {
  const ns = pod.metadata?.namespace
  let owner = controllerOf(pod.metadata as ObjectMeta)
  if (!owner) return {kind: 'Pod', name: pod.metadata?.name ?? '', annotations: pod.metadata?.annotations ?? {}}
  let entry = owners.get(key(owner.kind, ns, owner.name))
  const parent = entry?.controller
  if (parent && (parent.kind === 'Deployment' || parent.kind === 'CronJob')) {
    owner = parent
    entry = owners.get(key(parent.kind, ns, parent.name))
  }
  return {kind: owner.kind, name: owner.name, annotations: entry?.annotations ?? pod.metadata?.annotations ?? {}}
}

/** Where a pod's spec is: one array for every pod, never written to. */
const POD_SPEC_PATH: Workload['podSpecPath'] = Object.freeze(['spec']) as Workload['podSpecPath']

/** The workload a pod belongs to (its controller, or the pod itself), with this pod's spec, and the workload's key. */
export function podWorkload(
  pod: {metadata?: ObjectMeta; spec?: unknown},
  owners: OwnerIndex,
): {id: string; workload: Workload} {
  const owner = workloadOwner(pod, owners)
  const namespace = pod.metadata?.namespace
  return {
    id: key(owner.kind, namespace, owner.name),
    workload: {
      kind: owner.kind,
      namespace,
      name: owner.name,
      annotations: owner.annotations,
      podSpec: (pod.spec ?? {}) as Workload['podSpec'],
      podSpecPath: POD_SPEC_PATH,
    },
  }
}

/** A namespace's docker-registry secrets and service accounts; undefined maps mean "not readable". */
export interface NamespacePullSecrets {
  servers?: Map<string, string[]>
  credentials: Map<string, DockerCredential[]>
  accounts?: Map<string, string[]>
}

export function namespacePullSecrets(
  secrets: V1Secret[] | undefined,
  accounts: V1ServiceAccount[] | undefined,
): NamespacePullSecrets {
  const asSecret = (s: V1Secret) => s as {type?: string; data?: Record<string, string>}
  return {
    servers: secrets && new Map(secrets.map((s) => [s.metadata?.name ?? '', pullSecretServers(asSecret(s))])),
    credentials: new Map((secrets ?? []).map((s) => [s.metadata?.name ?? '', pullSecretCredentials(asSecret(s))])),
    accounts:
      accounts &&
      new Map(accounts.map((a) => [a.metadata?.name ?? '', (a.imagePullSecrets ?? []).map((r) => r.name ?? '')])),
  }
}

/** A folded workload with what its pods may pull with. Pure. */
export function clusterWorkload(
  folded: {workload: Workload; targets: ContainerTarget[]},
  secrets: NamespacePullSecrets | undefined,
  policy: ImagePolicy,
): AuditedWorkload {
  const names = usablePullSecrets(folded.workload.podSpec, (account) => secrets?.accounts?.get(account))
  const servers = secrets?.servers
  return {
    ...folded,
    context: {
      mode: 'cluster',
      policy,
      usablePullSecretNames: names,
      usablePullSecretServers: servers ? names.flatMap((name) => servers.get(name) ?? []) : undefined,
      namespacePullSecretServers: servers ? [...servers.values()].flat() : undefined,
    },
    credentials: names.flatMap((name) => secrets?.credentials.get(name) ?? []),
  }
}

export async function listOrEmpty<T>(
  client: ApiReader,
  what: {resource: string; namespace?: string},
  request: () => Promise<T[]>,
): Promise<T[] | undefined> {
  try {
    return await request()
  } catch (error) {
    // Missing read permission on an optional resource degrades the audit, it does not stop it.
    const code = apiStatusOf(error)?.code
    if (code === 403 || code === 404) return undefined
    throw describeApiError(
      error,
      {verb: 'list', resource: what.resource, namespace: what.namespace},
      client.server,
      client.config.contextName,
      client.requestTimeoutMs,
    )
  }
}

const OWNER_KINDS: Array<[kind: string, group: string, resource: string]> = [
  ['ReplicaSet', 'apis/apps/v1', 'replicasets'],
  ['Deployment', 'apis/apps/v1', 'deployments'],
  ['StatefulSet', 'apis/apps/v1', 'statefulsets'],
  ['DaemonSet', 'apis/apps/v1', 'daemonsets'],
  ['Job', 'apis/batch/v1', 'jobs'],
  ['CronJob', 'apis/batch/v1', 'cronjobs'],
]

/**
 * The audit's input from a live cluster, reported per workload (see `workloadOwner`); each
 * workload is checked once, on one of its pods. Pods are read page by page and only a compact
 * record of each is kept, so memory stays flat with the cluster's size. `namespace` undefined
 * means every namespace. The client is the caller's: this module never builds one.
 */
/** Where a kind's objects are listed: across namespaces, or in one. */
export const listPath = (namespace: string | undefined, group: string, resource: string) =>
  `/${group}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${resource}`

/** The controllers of pods and of their controllers, one paginated list per kind, kept as (controller, imgsec.io/ignore) only. */
export async function readOwners(client: ApiReader, namespace: string | undefined): Promise<OwnerIndex> {
  const owners: OwnerIndex = new Map()
  // Kept until the audit ends, one per controller: only the controller's kind (one copy of each)
  // and name, not its whole ownerReference.
  const kinds = stringPool()
  // Sequentially: in parallel the pages of all kinds would be in memory at once.
  for (const [kind, group, resource] of OWNER_KINDS) {
    // eslint-disable-next-line no-await-in-loop
    await listOrEmpty(client, {resource, namespace}, async () => {
      await forEachRawPage<{metadata?: ObjectMeta}>(client, listPath(namespace, group, resource), {}, (items) => {
        for (const item of items) {
          const controller = controllerOf(item.metadata)
          owners.set(key(kind, item.metadata?.namespace, item.metadata?.name), {
            controller: controller && {kind: kinds(controller.kind), name: controller.name},
            annotations: ignoreAnnotationOf(item.metadata?.annotations),
          })
        }
      })
      return []
    })
  }
  return owners
}

/** The annotations of every controller without imgsec.io/ignore: one object, never written to. */
const NO_ANNOTATIONS: Record<string, string> = Object.freeze({})

/** Of a workload's annotations, the audit reads only imgsec.io/ignore: the others are not kept. */
export function ignoreAnnotationOf(
  annotations: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (annotations === undefined) return undefined
  const value = annotations[IGNORE_ANNOTATION]
  return value === undefined ? NO_ANNOTATIONS : {[IGNORE_ANNOTATION]: value}
}

/** Pull secrets per namespace: which docker-registry secrets exist, and which each service account references. */
export async function readPullSecrets(
  client: ApiReader,
  namespace: string | undefined,
): Promise<(namespace: string) => NamespacePullSecrets> {
  // One paginated list (across the cluster, or of the namespace) instead of two requests per namespace.
  const list = <T>(resource: string) =>
    listOrEmpty(client, {resource, namespace}, async () => {
      const items: T[] = []
      await forEachRawPage<T>(client, listPath(namespace, 'api/v1', resource), {}, (page) => {
        items.push(...page)
      })
      return items
    })
  const [secrets, accounts] = await Promise.all([list<V1Secret>('secrets'), list<V1ServiceAccount>('serviceaccounts')])
  const byNamespace = <T extends {metadata?: {namespace?: string}}>(items: T[] | undefined) => {
    const groups = new Map<string, T[]>()
    for (const item of items ?? []) {
      const ns = item.metadata?.namespace ?? ''
      const group = groups.get(ns)
      if (group) group.push(item)
      else groups.set(ns, [item])
    }
    return groups
  }
  const secretGroups = byNamespace(secrets)
  const accountGroups = byNamespace(accounts)
  const result = new Map<string, NamespacePullSecrets>()
  return (ns) => {
    let found = result.get(ns)
    if (!found) {
      found = namespacePullSecrets(secrets && (secretGroups.get(ns) ?? []), accounts && (accountGroups.get(ns) ?? []))
      result.set(ns, found)
    }
    return found
  }
}

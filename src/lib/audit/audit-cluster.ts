import type {V1Pod, V1Secret, V1ServiceAccount} from '@kubernetes/client-node'

import {type AuditedContainer, auditWorkload, type Finding} from './audit.js'
import {imageTagDigestMismatch} from './checks/index.js'
import {type DockerCredential, pullSecretCredentials, pullSecretServers} from '../image/docker-config.js'
import {parseImageReference} from '../image/image-reference.js'
import {apiStatusOf, createKubeClient, describeApiError, forEachRawPage, type KubeClient, listAllPages} from '../cluster/kube-client.js'
import type {KubeTargetOptions} from '../cluster/kubeconfig.js'
import type {ImagePolicy} from '../policy/policy.js'
import {containersOf, type Workload} from './workloads.js'

interface OwnerRef {kind: string; name: string; uid?: string; controller?: boolean}
interface ObjectMeta {name?: string; namespace?: string; uid?: string; annotations?: Record<string, string>; ownerReferences?: OwnerRef[]}


function controllerOf(meta: ObjectMeta | undefined): OwnerRef | undefined {
  return meta?.ownerReferences?.find((ref) => ref.controller) ?? meta?.ownerReferences?.[0]
}

/** Digest part of a containerStatus imageID (`docker-pullable://nginx@sha256:…`, `docker.io/library/nginx@sha256:…`, `sha256:…`). */
export function digestOfImageId(imageId: string | undefined): string | undefined {
  const match = imageId ? /(sha256:[a-f0-9]{64})/.exec(imageId) : null
  return match?.[1]
}

async function listOrEmpty<T>(client: KubeClient, what: {resource: string; namespace?: string}, request: () => Promise<T[]>): Promise<T[] | undefined> {
  try {
    return await request()
  } catch (error) {
    // Missing read permission on an optional resource degrades the audit, it does not stop it.
    const code = apiStatusOf(error)?.code
    if (code === 403 || code === 404) return undefined
    throw describeApiError(error, {verb: 'list', resource: what.resource, namespace: what.namespace}, client.server, client.config.contextName)
  }
}

/** What the audit keeps of each pod: enough for the digest comparison and the image scans. */
interface PodRecord {
  workloadId: string
  containers: Array<{name: string; image: string; imageId?: string}>
}

/**
 * Audit the pods of a live cluster, reported per workload: a pod is folded into its controlling
 * Deployment (through its ReplicaSet), CronJob (through its Job), StatefulSet, DaemonSet or Job;
 * each workload is checked once, on one of its pods. Pods are read page by page and only a
 * compact record of each is kept, so memory stays flat with the cluster's size.
 */
export async function auditCluster(options: {namespace?: string; allNamespaces?: boolean; selector?: string; kube: KubeTargetOptions}, policy: ImagePolicy): Promise<{findings: Finding[]; workloads: number; containers: AuditedContainer[]}> {
  const client = await createKubeClient({...options.kube, namespace: options.namespace})
  const namespace = options.allNamespaces ? undefined : client.config.namespace
  const key = (kind: string, ns: string | undefined, name: string | undefined) => `${kind}/${ns ?? ''}/${name ?? ''}`

  // Owners first, one paginated list per kind, kept as (controller, annotations) only.
  const owners = new Map<string, {controller?: OwnerRef; annotations?: Record<string, string>}>()
  const ownerKinds: Array<[kind: string, group: string, resource: string]> = [
    ['ReplicaSet', 'apis/apps/v1', 'replicasets'],
    ['Deployment', 'apis/apps/v1', 'deployments'],
    ['StatefulSet', 'apis/apps/v1', 'statefulsets'],
    ['DaemonSet', 'apis/apps/v1', 'daemonsets'],
    ['Job', 'apis/batch/v1', 'jobs'],
    ['CronJob', 'apis/batch/v1', 'cronjobs'],
  ]
  const listPath = (group: string, resource: string) => `/${group}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${resource}`
  // Sequentially: in parallel the pages of all kinds would be in memory at once.
  for (const [kind, group, resource] of ownerKinds) {
    // eslint-disable-next-line no-await-in-loop
    await listOrEmpty(client, {resource, namespace}, async () => {
      await forEachRawPage<{metadata?: ObjectMeta}>(client, listPath(group, resource), {}, (items) => {
        for (const item of items) owners.set(key(kind, item.metadata?.namespace, item.metadata?.name), {controller: controllerOf(item.metadata), annotations: item.metadata?.annotations})
      })
      return []
    })
  }
  const topOwner = (pod: V1Pod): {kind: string; name: string; annotations: Record<string, string>} => {
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

  const workloads = new Map<string, Workload>()
  const records: PodRecord[] = []
  const labelSelector = options.selector
  await client.call({verb: 'list', resource: 'pods', namespace}, () => forEachRawPage<V1Pod>(client, listPath('api/v1', 'pods'), {labelSelector}, (pods) => {
    for (const pod of pods) {
      const owner = topOwner(pod)
      const workloadId = key(owner.kind, pod.metadata?.namespace, owner.name)
      if (!workloads.has(workloadId)) {
        workloads.set(workloadId, {kind: owner.kind, namespace: pod.metadata?.namespace, name: owner.name, annotations: owner.annotations, podSpec: (pod.spec ?? {}) as Workload['podSpec'], podSpecPath: ['spec']})
      }
      const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? []), ...(pod.status?.ephemeralContainerStatuses ?? [])]
      records.push({
        workloadId,
        containers: containersOf((pod.spec ?? {}) as Workload['podSpec']).map(({container}) => ({
          name: container.name ?? '',
          image: container.image ?? '',
          imageId: statuses.find((s) => s.name === container.name)?.imageID,
        })),
      })
    }
  }))

  // Pull secrets per namespace: which docker-registry secrets exist, and which each service account references.
  const namespaces = [...new Set([...workloads.values()].map((w) => w.namespace ?? ''))]
  const secretsByNamespace = new Map<string, Map<string, string[]> | undefined>()
  const credentialsByNamespace = new Map<string, Map<string, DockerCredential[]>>()
  const accountsByNamespace = new Map<string, Map<string, string[]> | undefined>()
  const record = (ns: string, secrets: V1Secret[] | undefined, accounts: V1ServiceAccount[] | undefined) => {
    secretsByNamespace.set(ns, secrets && new Map(secrets.map((s) => [s.metadata?.name ?? '', pullSecretServers(s as {type?: string; data?: Record<string, string>})])))
    credentialsByNamespace.set(ns, new Map((secrets ?? []).map((s) => [s.metadata?.name ?? '', pullSecretCredentials(s as {type?: string; data?: Record<string, string>})])))
    accountsByNamespace.set(ns, accounts && new Map(accounts.map((a) => [a.metadata?.name ?? '', (a.imagePullSecrets ?? []).map((r) => r.name ?? '')])))
  }
  if (namespace) {
    record(namespace, ...await Promise.all([
      listOrEmpty(client, {resource: 'secrets', namespace}, () => listAllPages((page) => client.core.listNamespacedSecret({namespace, ...page}))),
      listOrEmpty(client, {resource: 'serviceaccounts', namespace}, () => listAllPages((page) => client.core.listNamespacedServiceAccount({namespace, ...page}))),
    ]))
  } else {
    // One paginated list across the cluster instead of two requests per namespace.
    const [secrets, accounts] = await Promise.all([
      listOrEmpty(client, {resource: 'secrets'}, () => listAllPages((page) => client.core.listSecretForAllNamespaces(page))),
      listOrEmpty(client, {resource: 'serviceaccounts'}, () => listAllPages((page) => client.core.listServiceAccountForAllNamespaces(page))),
    ])
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
    for (const ns of namespaces) record(ns, secrets && (secretGroups.get(ns) ?? []), accounts && (accountGroups.get(ns) ?? []))
  }

  const findings: Finding[] = []
  const credentialsOfWorkload = new Map<string, DockerCredential[]>()
  for (const [workloadId, workload] of workloads) {
    const ns = workload.namespace ?? ''
    const secrets = secretsByNamespace.get(ns)
    const account = workload.podSpec.serviceAccountName ?? workload.podSpec.serviceAccount ?? 'default'
    const names = [...new Set([
      ...(workload.podSpec.imagePullSecrets ?? []).map((r) => r?.name ?? ''),
      ...(accountsByNamespace.get(ns)?.get(account) ?? []),
    ].filter(Boolean))]
    credentialsOfWorkload.set(workloadId, names.flatMap((name) => credentialsByNamespace.get(ns)?.get(name) ?? []))
    findings.push(...auditWorkload({
      workload,
      context: {
        mode: 'cluster',
        policy,
        usablePullSecretNames: names,
        usablePullSecretServers: secrets ? names.flatMap((name) => secrets.get(name) ?? []) : undefined,
        namespacePullSecretServers: secrets ? [...secrets.values()].flat() : undefined,
      },
    }))
  }
  findings.push(...digestMismatchFindings(records, workloads))
  const containers: AuditedContainer[] = records.flatMap((pod) => {
    const workload = workloads.get(pod.workloadId)!
    return pod.containers.map((c) => ({
      resource: {kind: workload.kind, namespace: workload.namespace, name: workload.name},
      container: c.name,
      image: c.image,
      runningDigest: digestOfImageId(c.imageId),
      credentials: credentialsOfWorkload.get(pod.workloadId),
    }))
  })
  return {findings, workloads: workloads.size, containers}
}

/** The same tag running as different digests across pods (from status.containerStatuses[].imageID). */
export function digestMismatchFindings(records: PodRecord[], workloads: Map<string, Workload>): Finding[] {
  const byImage = new Map<string, {digests: Map<string, number>; users: Map<string, {workloadId: string; container: string; image: string}>}>()
  for (const pod of records) {
    for (const container of pod.containers) {
      let reference
      try {
        reference = parseImageReference(container.image)
      } catch {
        continue
      }
      if (reference.digest) continue
      const digest = digestOfImageId(container.imageId)
      if (!digest) continue
      const id = `${reference.registry}/${reference.repository}:${reference.tag ?? 'latest'}`
      const entry = byImage.get(id) ?? {digests: new Map(), users: new Map()}
      entry.digests.set(digest, (entry.digests.get(digest) ?? 0) + 1)
      entry.users.set(`${pod.workloadId}/${container.name}`, {workloadId: pod.workloadId, container: container.name, image: container.image})
      byImage.set(id, entry)
    }
  }
  const findings: Finding[] = []
  for (const [id, {digests, users}] of byImage) {
    if (digests.size < 2) continue
    const detail = [...digests].map(([digest, count]) => `${digest.slice(0, 19)}… (${count} pod${count === 1 ? '' : 's'})`).join(', ')
    for (const {workloadId, container, image} of users.values()) {
      const workload = workloads.get(workloadId)!
      findings.push({
        check: imageTagDigestMismatch.id,
        severity: imageTagDigestMismatch.severity,
        resource: {kind: workload.kind, namespace: workload.namespace, name: workload.name},
        container,
        image,
        message: `${id} runs as ${digests.size} different digests across pods: ${detail}`,
        fix: imageTagDigestMismatch.fix,
      })
    }
  }
  return findings
}

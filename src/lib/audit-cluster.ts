import type {V1Pod, V1Secret, V1ServiceAccount} from '@kubernetes/client-node'

import {type AuditedContainer, auditWorkload, type Finding} from './audit.js'
import {imageTagDigestMismatch} from './checks/index.js'
import {type DockerCredential, pullSecretCredentials, pullSecretServers} from './docker-config.js'
import {parseImageReference} from './image-reference.js'
import {apiStatusOf, createKubeClient, describeApiError, type KubeClient, listAllPages} from './kube-client.js'
import type {KubeTargetOptions} from './kubeconfig.js'
import type {ImagePolicy} from './policy.js'
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

/**
 * Audit the pods of a live cluster, reported per workload: a pod is folded into its controlling
 * Deployment (through its ReplicaSet), CronJob (through its Job), StatefulSet, DaemonSet or Job;
 * each workload is checked once, on one of its pods.
 */
export async function auditCluster(options: {namespace?: string; allNamespaces?: boolean; selector?: string; kube: KubeTargetOptions}, policy: ImagePolicy): Promise<{findings: Finding[]; workloads: number; containers: AuditedContainer[]}> {
  const client = await createKubeClient({...options.kube, namespace: options.namespace})
  const namespace = options.allNamespaces ? undefined : client.config.namespace
  const scope = {namespace}
  const labelSelector = options.selector
  const pods = await client.call({verb: 'list', resource: 'pods', namespace}, () => listAllPages<V1Pod>((page) => (namespace
    ? client.core.listNamespacedPod({namespace, labelSelector, ...page})
    : client.core.listPodForAllNamespaces({labelSelector, ...page}))))

  // Owners one level up: ReplicaSet → Deployment, Job → CronJob. Listed once, not fetched per pod.
  const list = <T>(resource: string, namespaced: (ns: string, page: {limit: number; _continue?: string}) => Promise<{items: T[]}>, all: (page: {limit: number; _continue?: string}) => Promise<{items: T[]}>) =>
    listOrEmpty(client, {resource, namespace}, () => listAllPages<T>((page) => (namespace ? namespaced(namespace, page) : all(page)) as never))
  const needsReplicaSets = pods.some((pod) => controllerOf(pod.metadata)?.kind === 'ReplicaSet')
  const needsJobs = pods.some((pod) => controllerOf(pod.metadata)?.kind === 'Job')
  const [replicaSets, jobs, deployments, cronJobs, statefulSets, daemonSets] = await Promise.all([
    needsReplicaSets ? list('replicasets', (ns, p) => client.apps.listNamespacedReplicaSet({namespace: ns, ...p}), (p) => client.apps.listReplicaSetForAllNamespaces(p)) : [],
    needsJobs ? list('jobs', (ns, p) => client.batch.listNamespacedJob({namespace: ns, ...p}), (p) => client.batch.listJobForAllNamespaces(p)) : [],
    needsReplicaSets ? list('deployments', (ns, p) => client.apps.listNamespacedDeployment({namespace: ns, ...p}), (p) => client.apps.listDeploymentForAllNamespaces(p)) : [],
    needsJobs ? list('cronjobs', (ns, p) => client.batch.listNamespacedCronJob({namespace: ns, ...p}), (p) => client.batch.listCronJobForAllNamespaces(p)) : [],
    pods.some((pod) => controllerOf(pod.metadata)?.kind === 'StatefulSet') ? list('statefulsets', (ns, p) => client.apps.listNamespacedStatefulSet({namespace: ns, ...p}), (p) => client.apps.listStatefulSetForAllNamespaces(p)) : [],
    pods.some((pod) => controllerOf(pod.metadata)?.kind === 'DaemonSet') ? list('daemonsets', (ns, p) => client.apps.listNamespacedDaemonSet({namespace: ns, ...p}), (p) => client.apps.listDaemonSetForAllNamespaces(p)) : [],
  ])
  const byKey = new Map<string, {metadata?: ObjectMeta}>()
  const key = (kind: string, ns: string | undefined, name: string | undefined) => `${kind}/${ns ?? ''}/${name ?? ''}`
  for (const [kind, items] of [['ReplicaSet', replicaSets], ['Job', jobs], ['Deployment', deployments], ['CronJob', cronJobs], ['StatefulSet', statefulSets], ['DaemonSet', daemonSets]] as const) {
    for (const item of (items ?? []) as Array<{metadata?: ObjectMeta}>) byKey.set(key(kind, item.metadata?.namespace, item.metadata?.name), item)
  }
  const topOwner = (pod: V1Pod): {kind: string; name: string; annotations: Record<string, string>} => {
    const ns = pod.metadata?.namespace
    let owner = controllerOf(pod.metadata as ObjectMeta)
    if (!owner) return {kind: 'Pod', name: pod.metadata?.name ?? '', annotations: pod.metadata?.annotations ?? {}}
    let object = byKey.get(key(owner.kind, ns, owner.name))
    const parent = controllerOf(object?.metadata)
    if (parent && (parent.kind === 'Deployment' || parent.kind === 'CronJob')) {
      owner = parent
      object = byKey.get(key(parent.kind, ns, parent.name))
    }
    return {kind: owner.kind, name: owner.name, annotations: object?.metadata?.annotations ?? pod.metadata?.annotations ?? {}}
  }

  // Pull secrets per namespace: which docker-registry secrets exist, and which each service account references.
  const namespaces = [...new Set(pods.map((pod) => pod.metadata?.namespace ?? ''))]
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

  const workloads = new Map<string, {workload: Workload; pods: V1Pod[]}>()
  for (const pod of pods) {
    const owner = topOwner(pod)
    const id = key(owner.kind, pod.metadata?.namespace, owner.name)
    const entry = workloads.get(id)
    if (entry) {
      entry.pods.push(pod)
      continue
    }
    workloads.set(id, {
      pods: [pod],
      workload: {kind: owner.kind, namespace: pod.metadata?.namespace, name: owner.name, annotations: owner.annotations, podSpec: (pod.spec ?? {}) as Workload['podSpec'], podSpecPath: ['spec']},
    })
  }

  const findings: Finding[] = []
  const containers: AuditedContainer[] = []
  for (const {workload, pods: workloadPods} of workloads.values()) {
    const ns = workload.namespace ?? ''
    const secrets = secretsByNamespace.get(ns)
    const account = workload.podSpec.serviceAccountName ?? workload.podSpec.serviceAccount ?? 'default'
    const names = [...new Set([
      ...(workload.podSpec.imagePullSecrets ?? []).map((r) => r?.name ?? ''),
      ...(accountsByNamespace.get(ns)?.get(account) ?? []),
    ].filter(Boolean))]
    const credentials = names.flatMap((name) => credentialsByNamespace.get(ns)?.get(name) ?? [])
    for (const pod of workloadPods) {
      const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? []), ...(pod.status?.ephemeralContainerStatuses ?? [])]
      for (const {container} of containersOf((pod.spec ?? {}) as Workload['podSpec'])) {
        containers.push({
          resource: {kind: workload.kind, namespace: workload.namespace, name: workload.name},
          container: container.name ?? '',
          image: container.image ?? '',
          runningDigest: digestOfImageId(statuses.find((s) => s.name === container.name)?.imageID),
          credentials,
        })
      }
    }
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
  findings.push(...digestMismatchFindings([...workloads.values()]))
  return {findings, workloads: workloads.size, containers}
}

/** The same tag running as different digests across pods (from status.containerStatuses[].imageID). */
export function digestMismatchFindings(workloads: Array<{workload: Workload; pods: V1Pod[]}>): Finding[] {
  const byImage = new Map<string, {digests: Map<string, number>; users: Map<string, {workload: Workload; container: string; image: string}>}>()
  for (const {workload, pods} of workloads) {
    for (const pod of pods) {
      const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? []), ...(pod.status?.ephemeralContainerStatuses ?? [])]
      for (const {container} of containersOf((pod.spec ?? {}) as Workload['podSpec'])) {
        const image = container.image ?? ''
        let reference
        try {
          reference = parseImageReference(image)
        } catch {
          continue
        }
        if (reference.digest) continue
        const digest = digestOfImageId(statuses.find((s) => s.name === container.name)?.imageID)
        if (!digest) continue
        const id = `${reference.registry}/${reference.repository}:${reference.tag ?? 'latest'}`
        const entry = byImage.get(id) ?? {digests: new Map(), users: new Map()}
        entry.digests.set(digest, (entry.digests.get(digest) ?? 0) + 1)
        entry.users.set(`${workload.kind}/${workload.namespace}/${workload.name}/${container.name}`, {workload, container: container.name ?? '', image})
        byImage.set(id, entry)
      }
    }
  }
  const findings: Finding[] = []
  for (const [id, {digests, users}] of byImage) {
    if (digests.size < 2) continue
    const detail = [...digests].map(([digest, count]) => `${digest.slice(0, 19)}… (${count} pod${count === 1 ? '' : 's'})`).join(', ')
    for (const {workload, container, image} of users.values()) {
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

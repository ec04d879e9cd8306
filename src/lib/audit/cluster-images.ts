// The first of a cluster audit's two reads of the pods, when images are asked about at their
// registries (--inspect, --verify-signatures, --scan, --resolve-digests): the distinct images,
// with the pull credentials that may read each and the digests pods run them as. Nothing per pod
// is kept, so memory follows the images, not the cluster's size; the pods are then read again,
// streamed, and checked with what the registries said (streamClusterAudit's PerImageFindings).
import {containerTargets, type AuditedWorkload, type AuditInput} from './audit.js'
import {clusterWorkload, listPath, type RawPod, readPullSecrets, runningDigestOf} from './audit-cluster.js'
import type {ContainerInstance} from './checks/types.js'
import {imageTarget} from './per-image.js'
import type {ApiReader} from '../cluster/api-reader.js'
import {forEachRawPage} from '../cluster/kube-client.js'
import type {ImagePolicy} from '../policy/policy.js'
import type {Workload} from './workloads.js'

/**
 * The cluster's images as an AuditInput for the per-image steps: one unit per namespace and set
 * of usable pull secrets (its credentials, the distinct images its pods name), one instance per
 * distinct image and running digest. Its workloads are stand-ins: nothing is reported about them.
 */
export async function collectClusterImages(
  client: ApiReader,
  scope: {namespace?: string; selector?: string},
  policy: ImagePolicy,
): Promise<AuditInput> {
  const {namespace} = scope
  const secrets = await readPullSecrets(client, namespace)
  const groups = new Map<string, {unit: AuditedWorkload; images: Set<string>}>()
  const instances = new Map<string, ContainerInstance>()

  const add = (pod: RawPod) => {
    const podNamespace = pod.metadata?.namespace ?? ''
    const workload: Workload = {
      kind: 'Pod',
      namespace: podNamespace,
      name: pod.metadata?.name ?? '',
      annotations: {},
      podSpec: pod.spec ?? {},
      podSpecPath: ['spec'],
    }
    const targets = containerTargets(workload, policy)
    const unit = clusterWorkload({workload, targets}, secrets(podNamespace), policy)
    const key = `${podNamespace}\u0000${unit.context.usablePullSecretNames.join('\u0000')}`
    let group = groups.get(key)
    if (!group) {
      const standIn: Workload = {...workload, name: `pods of ${podNamespace}`, podSpec: {}}
      group = {
        unit: {workload: standIn, context: unit.context, targets: [], credentials: unit.credentials},
        images: new Set(),
      }
      groups.set(key, group)
    }
    for (const target of targets) {
      if (!group.images.has(target.image)) {
        group.images.add(target.image)
        group.unit.targets.push(imageTarget(target, group.unit.workload))
      }
      const runningDigest = runningDigestOf(pod, target.container.name)
      const instanceKey = `${key}\u0000${target.image}\u0000${runningDigest}`
      if (!instances.has(instanceKey))
        instances.set(instanceKey, {
          workload: group.unit.workload,
          container: target.name,
          image: target.image,
          runningDigest,
        })
    }
  }

  await client.call({verb: 'list', resource: 'pods', namespace}, () =>
    forEachRawPage<RawPod>(client, listPath(namespace, 'api/v1', 'pods'), {labelSelector: scope.selector}, (pods) => {
      for (const pod of pods) add(pod)
    }),
  )
  return {workloads: [...groups.values()].map((group) => group.unit), instances: [...instances.values()]}
}

// Pods folded into whole workloads, as the audit once held them before it streamed: the model the
// unit tests build AuditInputs with (the streamed audit, cluster-stream.ts, folds the same way
// without keeping the pods).
import type {V1Pod} from '@kubernetes/client-node'

import {containerTargets} from '../../src/lib/audit/audit.js'
import {digestOfImageId, type OwnerIndex, podWorkload} from '../../src/lib/audit/audit-cluster.js'
import type {ContainerInstance, ContainerTarget} from '../../src/lib/audit/checks/index.js'
import {containersOf, type Workload} from '../../src/lib/audit/workloads.js'
import type {ImagePolicy} from '../../src/lib/policy/policy.js'

/** Pods folded into workloads: the first pod of each gives its spec; every pod's containers count as instances. */
export interface PodFolding {
  add(pod: V1Pod): void
  workloads: Map<string, {workload: Workload; targets: ContainerTarget[]}>
  instances: ContainerInstance[]
}

/**
 * Fold pods into their workloads as they are read, keeping a compact instance per container of
 * each pod (name, image, running digest) and the full spec of one pod per workload. Pure.
 */
export function foldPods(owners: OwnerIndex, policy: ImagePolicy): PodFolding {
  const folding: PodFolding = {
    workloads: new Map(),
    instances: [],
    add(pod) {
      const {id, workload} = podWorkload(pod, owners)
      let entry = folding.workloads.get(id)
      if (!entry) {
        entry = {workload, targets: containerTargets(workload, policy)}
        folding.workloads.set(id, entry)
      }
      const statuses = [
        ...(pod.status?.initContainerStatuses ?? []),
        ...(pod.status?.containerStatuses ?? []),
        ...(pod.status?.ephemeralContainerStatuses ?? []),
      ]
      // The workload's first pod was walked for its targets; other pods (another ReplicaSet revision) may run other images.
      const containers =
        entry.workload.podSpec === workload.podSpec
          ? entry.targets.map((t) => ({name: t.container.name, image: t.container.image}))
          : containersOf(workload.podSpec).map(({container}) => container)
      for (const container of containers) {
        folding.instances.push({
          workload: entry.workload,
          container: container.name ?? '',
          image: container.image ?? '',
          runningDigest: digestOfImageId(statuses.find((s) => s.name === container.name)?.imageID),
        })
      }
    },
  }
  return folding
}

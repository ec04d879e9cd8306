import {parseImageReference} from '../../image/image-reference.js'
import {checkHelpUri, type ContainerInstance, type CrossWorkloadCheck} from './types.js'

// Cluster mode only (files say nothing about what runs): compares the digests pods report in
// status.containerStatuses[].imageID, across every pod of the run, per tag.
export const imageTagDigestMismatch: CrossWorkloadCheck = {
  id: 'image-tag-digest-mismatch',
  kind: 'cross-workload',
  severity: 'medium',
  title: 'Same image tag runs as different digests',
  description:
    'Pods that name the same tag run different content: the tag moved between pulls, and nodes that pulled at different times (or with imagePullPolicy IfNotPresent) kept what they had. What runs depends on where a pod was scheduled.',
  helpUri: checkHelpUri('image-tag-digest-mismatch'),
  fix: 'Pin the image by digest so every pod runs the same content, then roll the workload.',
  run(containers) {
    const byTag = new Map<string, {digests: Map<string, number>; users: Map<string, ContainerInstance>}>()
    for (const instance of containers) {
      if (!instance.runningDigest) continue
      let reference
      try {
        reference = parseImageReference(instance.image)
      } catch {
        continue
      }
      if (reference.digest) continue
      const id = `${reference.registry}/${reference.repository}:${reference.tag ?? 'latest'}`
      const entry = byTag.get(id) ?? {digests: new Map(), users: new Map()}
      entry.digests.set(instance.runningDigest, (entry.digests.get(instance.runningDigest) ?? 0) + (instance.pods ?? 1))
      // One finding per container of a workload, however many replicas it has.
      const {kind, namespace, name} = instance.workload
      const user = `${kind}/${namespace ?? ''}/${name}/${instance.container}`
      if (!entry.users.has(user)) entry.users.set(user, instance)
      byTag.set(id, entry)
    }
    return [...byTag]
      .filter(([, {digests}]) => digests.size > 1)
      .flatMap(([id, {digests, users}]) => {
        const detail = [...digests]
          .map(([digest, count]) => `${digest.slice(0, 19)}… (${count} pod${count === 1 ? '' : 's'})`)
          .join(', ')
        const message = `${id} runs as ${digests.size} different digests across pods: ${detail}`
        return [...users.values()].map((instance) => ({instance, result: message}))
      })
  },
}

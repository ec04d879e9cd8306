import {checkHelpUri, type CrossClusterCheck} from './types.js'

// Fleet audits only (--contexts, --all-contexts): image-tag-digest-mismatch's view across clusters.
// The run keeps, per tag, the running digests and the contexts that run each: nothing per workload.
export const imageTagDigestDrift: CrossClusterCheck = {
  id: 'image-tag-digest-drift',
  kind: 'cross-cluster',
  severity: 'medium',
  title: 'Same image tag runs as different digests in different clusters',
  description:
    'Clusters that run the same tag run different content: the tag moved between their pulls. A fix tested in one cluster is not what runs in another, and an incident in one cannot be reproduced from the tag alone.',
  helpUri: checkHelpUri('image-tag-digest-drift'),
  fix: 'Pin the image by digest in every cluster (the same digest), then roll the workloads.',
  run(running) {
    const results: Array<{cluster: string; image: string; message: string}> = []
    for (const [image, digests] of running) {
      if (digests.size < 2) continue
      // Per cluster, the digests it runs the tag as: clusters that all run the same set agree (a
      // mix inside each cluster is image-tag-digest-mismatch's), else the tag drifted between them.
      const perCluster = new Map<string, string[]>()
      for (const [digest, clusters] of digests)
        for (const cluster of clusters) perCluster.set(cluster, [...(perCluster.get(cluster) ?? []), digest])
      if (new Set([...perCluster.values()].map((set) => set.sort().join(' '))).size < 2) continue
      const contexts = [...perCluster.keys()].sort()
      // Sorted: clusters are read concurrently, the message must not depend on which answered first.
      const detail = [...digests]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([digest, clusters]) => `${digest.slice(0, 19)}… in ${[...clusters].sort().join(', ')}`)
        .join('; ')
      const message = `${image} runs as ${digests.size} different digests across clusters: ${detail}`
      for (const cluster of contexts) results.push({cluster, image, message})
    }
    return results
  },
}

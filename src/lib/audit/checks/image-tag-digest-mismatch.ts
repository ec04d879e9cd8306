import type {CheckInfo} from './types.js'

// Cluster mode only, and across pods rather than per container: computed by the cluster audit
// from status.containerStatuses[].imageID.
export const imageTagDigestMismatch: CheckInfo = {
  id: 'image-tag-digest-mismatch',
  severity: 'medium',
  title: 'Same image tag runs as different digests',
  fix: 'Pin the image by digest so every pod runs the same content, then roll the workload.',
}

// `--image-archive FILE`: the images of `docker save` tarballs and OCI layouts, inspected offline
// and judged by the image checks alone (there is no pod spec to judge), each archive one
// "ImageArchive" resource whose containers are its images.
import {type AuditInput, containerTargets} from './audit.js'
import type {ImageFacts} from '../image/image-facts.js'
import type {Platform} from '../image/image-manifest.js'
import type {ImagePolicy} from '../policy/policy.js'

/** The checks an image without a pod can fail: what `--inspect` reads, and `--scan`. */
export const ARCHIVE_CHECKS = new Set([
  'image-runs-as-root',
  'image-has-shell',
  'image-has-package-manager',
  'image-has-network-tools',
  'image-stale',
  'image-secret-in-config',
  'image-setuid-files',
  'image-vulnerable',
])

export async function archiveAuditInput(
  archives: string[],
  policy: ImagePolicy,
  platforms: Platform[] = [],
): Promise<{input: AuditInput; images: ImageFacts[]; archiveOf: Map<string, string>}> {
  const {inspectArchive} = await import('../image/image-archive.js')
  const input: AuditInput = {workloads: [], instances: []}
  const images: ImageFacts[] = []
  const facts = new Map<string, ImageFacts[]>()
  const archiveOf = new Map<string, string>()
  const now = Date.now()
  for (const file of archives) {
    // eslint-disable-next-line no-await-in-loop -- one archive file read at a time
    const found = await inspectArchive(file, platforms)
    images.push(...found)
    const names = [...new Set(found.map((f) => f.image))]
    for (const name of names) {
      facts.set(
        name,
        found.filter((f) => f.image === name),
      )
      archiveOf.set(name, file)
    }
    const workload = {
      kind: 'ImageArchive',
      name: file,
      annotations: {},
      podSpec: {containers: names.map((name) => ({name, image: name}))},
      podSpecPath: [],
    }
    const targets = containerTargets(workload, policy)
    input.workloads.push({
      workload,
      context: {mode: 'file', policy, usablePullSecretNames: [], inspected: {facts, now}},
      targets,
    })
    for (const target of targets) input.instances.push({workload, container: target.name, image: target.image, file})
  }
  return {input, images, archiveOf}
}

// `--image-archive FILE`: the images of `docker save` tarballs and OCI layouts, inspected offline
// and judged by the image checks alone (there is no pod spec to judge), each archive one
// "ImageArchive" resource whose containers are its images.
import {type AuditInput, containerTargets} from './audit.js'
import type {ImageFacts} from '../image/image-facts.js'
import type {Platform} from '../image/image-manifest.js'
import {type ImageReference, normalizeImageReference, parseImageReference} from '../image/image-reference.js'
import type {ImagePolicy} from '../policy/policy.js'
import type {AuditInspectOptions} from './inspect-images.js'

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

/** The archives' facts for the images the manifests name, and the images no archive holds. */
export interface ArchiveMatch {
  /** By image as written in the manifests, each fact renamed to it. */
  facts: Map<string, ImageFacts[]>
  /** Image as written → the archive it was found in (trivy reads that file). */
  archiveOf: Map<string, string>
  /** Images of the manifests that no archive holds (as written, in order). */
  unmatched: string[]
  /** Archive images no manifest names. */
  unused: string[]
}

/**
 * `-f` with `--image-archive`: a manifest's image is the archive's when its reference names one of
 * the archive's tags (normalised: `nginx:1.25` is `docker.io/library/nginx:1.25`), or, pinned by
 * digest, when the archive holds a manifest with that digest (OCI layouts; a `docker save`
 * tarball holds no manifest digest, so its images match by tag only).
 */
export function matchArchiveImages(
  written: Iterable<string>,
  archived: {images: ImageFacts[]; archiveOf: Map<string, string>},
): ArchiveMatch {
  const byName = new Map<string, ImageFacts[]>()
  const byDigest = new Map<string, ImageFacts[]>()
  for (const facts of archived.images) {
    const name = normalizedOrNull(facts.image)
    if (name) byName.set(name, [...(byName.get(name) ?? []), facts])
    byDigest.set(facts.digest, [...(byDigest.get(facts.digest) ?? []), facts])
  }
  const match: ArchiveMatch = {facts: new Map(), archiveOf: new Map(), unmatched: [], unused: []}
  const used = new Set<ImageFacts>()
  for (const image of new Set(written)) {
    let reference: ImageReference
    try {
      reference = parseImageReference(image)
    } catch {
      continue // image-reference-invalid says why
    }
    const found = reference.digest
      ? byDigest.get(reference.digest)
      : byName.get(normalizeImageReference({...reference, tag: reference.tag ?? 'latest'}))
    if (!found) {
      match.unmatched.push(image)
      continue
    }
    for (const facts of found) used.add(facts)
    match.facts.set(
      image,
      found.map((facts) => ({...facts, image})),
    )
    const archive = archived.archiveOf.get(found[0].image)
    if (archive) match.archiveOf.set(image, archive)
  }
  match.unused = [...new Set(archived.images.filter((facts) => !used.has(facts)).map((facts) => facts.image))]
  return match
}

function normalizedOrNull(image: string): string | undefined {
  try {
    const reference = parseImageReference(image)
    return normalizeImageReference({...reference, tag: reference.tag ?? 'latest', digest: undefined})
  } catch {
    return undefined
  }
}

/**
 * `-f` with `--image-archive`: the manifests' images that an archive holds are read from it, the
 * others from their registries (`--inspect`) or named as not inspected. Every workload's checks
 * get the facts of both.
 */
export async function inspectManifestsWithArchives(
  input: AuditInput,
  archives: string[],
  policy: ImagePolicy,
  inspect: AuditInspectOptions & {registries?: boolean},
  notices: string[],
): Promise<{images: ImageFacts[]; archiveOf: Map<string, string>}> {
  const archived = await archiveAuditInput(archives, policy, inspect.platforms)
  const match = matchArchiveImages(
    input.workloads.flatMap((unit) => unit.targets.map((target) => target.image)),
    archived,
  )
  let fromRegistries: ReadonlyMap<string, readonly ImageFacts[]> = new Map()
  let registryImages: ImageFacts[] = []
  if (match.unmatched.length > 0 && inspect.registries === false)
    notices.push(
      `--image-archive: no archive holds ${match.unmatched.join(', ')}, so ${match.unmatched.length === 1 ? 'it was' : 'they were'} not inspected (add --inspect to read ${match.unmatched.length === 1 ? 'it' : 'them'} from ${match.unmatched.length === 1 ? 'its registry' : 'their registries'})`,
    )
  else if (match.unmatched.length > 0) {
    const unmatched = new Set(match.unmatched)
    const rest: AuditInput = {
      ...input,
      workloads: input.workloads.map((unit) => ({
        ...unit,
        context: {...unit.context},
        targets: unit.targets.filter((target) => unmatched.has(target.image)),
      })),
    }
    const {inspectForAudit} = await import('./inspect-images.js')
    registryImages = await inspectForAudit(rest, inspect, undefined, notices)
    fromRegistries = rest.workloads[0]?.context.inspected?.facts ?? fromRegistries
  }
  if (match.unused.length > 0) notices.push(`--image-archive: no workload in -f runs ${match.unused.join(', ')}`)
  const facts = new Map<string, readonly ImageFacts[]>([...fromRegistries, ...match.facts])
  const now = Date.now()
  for (const unit of input.workloads) unit.context.inspected = {facts, now}
  return {images: [...[...match.facts.values()].flat(), ...registryImages], archiveOf: match.archiveOf}
}

// The backend's rules on image contents (requireNonRootImage, forbidShell, maxImageAgeDays): before
// a pod is admitted, each image's config (and, for forbidShell, its layers) is read from the
// registry. An ImageReview carries the images only, never the pod's securityContext: an image
// that runs as root is refused even when the pod sets a non-zero runAsUser.
// Facts are cached by manifest digest (a digest's content never changes), at most
// `maxCacheEntries`, least recently used dropped first. A tag is resolved at review time: its
// facts are those of the digest it names then (`requireDigest: true` pins what the kubelet pulls).
import {safeErrorMessage} from '../describe-error.js'
import {credentialForImage, type DockerCredential} from '../image/docker-config.js'
import {describeImageUser, imageAgeDays, type ImageFacts, isRootUser} from '../image/image-facts.js'
import type {Platform} from '../image/image-manifest.js'
import {registrySource} from '../image/image-source.js'
import {inspectImage} from '../image/inspect-image.js'
import type {ImageReference} from '../image/image-reference.js'
import type {RegistryConnection} from '../image/registry-client.js'
import {limitConcurrency} from '../concurrency.js'
import {evaluateImage, type ImagePolicy, needsImageFacts, type PolicyViolation} from '../policy/policy.js'
import {reviewBudget} from './review-budget.js'

export interface ImageFactsGateOptions {
  /** TLS settings for the registries. */
  connection?: Omit<RegistryConnection, 'timeoutMs' | 'deadline'>
  /** Registry credentials (`--docker-config`). */
  credentials?: DockerCredential[]
  /** How long reading the images of one review may take together. */
  budgetMs: number
  maxCacheEntries?: number
  /** An index is judged by each of these it has (the ImageReview does not say which node the pod goes to). */
  platforms?: Platform[]
  /** Warnings (an unreadable image admitted by imageFactsFailurePolicy: Ignore). */
  log?: (entry: Record<string, unknown>) => void
  now?: () => number
}

export type ImageFactsGate = (
  images: string[],
  namespace: string | undefined,
  policy: ImagePolicy,
) => Promise<PolicyViolation[][]>

export const ADMISSION_PLATFORMS: Platform[] = [
  {os: 'linux', architecture: 'amd64'},
  {os: 'linux', architecture: 'arm64'},
]

/** What the rules judge, per platform: kept small, so the cache's size is its entry count. */
interface CachedFacts {
  withFiles: boolean
  facts: Array<Pick<ImageFacts, 'digest' | 'platform' | 'user' | 'created' | 'shells'>>
}

/** The violations of one image's facts; `label` names the image as the pod does. */
export function imageFactViolations(
  label: string,
  facts: CachedFacts['facts'],
  policy: ImagePolicy,
  now: number,
): PolicyViolation[] {
  return facts.flatMap((fact) => {
    const name = facts.length > 1 && fact.platform ? `${label} [${fact.platform}]` : label
    const found: PolicyViolation[] = []
    if (policy.requireNonRootImage && isRootUser(fact.user))
      found.push({
        rule: 'image-runs-as-root',
        message: `${name} ${describeImageUser(fact.user)}, so it runs as root (requireNonRootImage; admission cannot see the pod's runAsUser)`,
      })
    if (policy.forbidShell && fact.shells.length > 0)
      found.push({rule: 'image-has-shell', message: `${name} has a shell: ${fact.shells.join(', ')} (forbidShell)`})
    const days = imageAgeDays(fact.created, now)
    if (policy.maxImageAgeDays !== undefined && days !== undefined && days > policy.maxImageAgeDays)
      found.push({
        rule: 'image-stale',
        message: `${name} was built ${days} days ago (created ${fact.created}), more than maxImageAgeDays (${policy.maxImageAgeDays})`,
      })
    return found
  })
}

export function createImageFactsGate(options: ImageFactsGateOptions): ImageFactsGate {
  const now = options.now ?? Date.now
  const maxEntries = options.maxCacheEntries ?? 1000
  const cache = new Map<string, CachedFacts>()
  const reading = new Map<string, {withFiles: boolean; read: Promise<CachedFacts>}>()
  // Reads go on after a review's budget is spent (their result fills the cache for the retry), so
  // they are bounded here rather than by the reviews in flight: per registry, so that a slow one
  // cannot hold the reads of the others.
  const limiters = new Map<string, ReturnType<typeof limitConcurrency>>()
  const limitReads = (registry: string) => {
    let limit = limiters.get(registry)
    if (!limit) {
      // Registries are those the policy allows; the map is cleared if that is "any" and they pile up.
      if (limiters.size >= 1000) limiters.clear()
      limit = limitConcurrency(4)
      limiters.set(registry, limit)
    }
    return limit
  }
  // Layers are not kept (the facts cache is what is bounded); reads in flight are shared.
  const layers = {reads: new Map(), get: () => Promise.resolve(undefined), set: () => Promise.resolve(true)}
  const remember = (key: string, value: CachedFacts) => {
    cache.delete(key)
    cache.set(key, value)
    // Oldest first: Map keeps insertion order.
    while (cache.size > maxEntries) cache.delete(cache.keys().next().value!)
  }
  const cached = (key: string, withFiles: boolean) => {
    const hit = cache.get(key)
    if (!hit || (withFiles && !hit.withFiles)) return undefined
    remember(key, hit)
    return hit
  }

  async function factsOf(
    reference: ImageReference,
    image: string,
    withFiles: boolean,
    connection: RegistryConnection,
  ): Promise<{facts: CachedFacts; digest: string}> {
    const repository = `${reference.registry}/${reference.repository}`
    const source = registrySource(
      reference,
      connection,
      credentialForImage(options.credentials ?? [], reference),
      'webhook serve --docker-config',
    )
    let digest = reference.digest
    let top: Awaited<ReturnType<typeof source.manifest>> | undefined
    if (!digest) {
      // A tag is resolved now: one manifest read per review; the digest's facts may be cached.
      top = await source.manifest()
      digest = top.digest
    }
    const key = `${repository}@${digest}`
    const hit = cached(key, withFiles)
    if (hit) return {facts: hit, digest}
    const pending = reading.get(key)
    // A read in flight serves this review when it reads at least what this one needs.
    let read = pending && (pending.withFiles || !withFiles) ? pending.read : undefined
    if (!read) {
      const resolved = top
      const pinned = resolved
        ? {...source, manifest: (at?: string) => (at ? source.manifest(at) : Promise.resolve(resolved))}
        : source
      read = limitReads(reference.registry)(() =>
        inspectImage(pinned, image, {
          platforms: options.platforms ?? ADMISSION_PLATFORMS,
          layers,
          configOnly: !withFiles,
        }),
      ).then((all) => {
        const value = {
          withFiles,
          facts: all.map(({digest, platform, user, created, shells}) => ({digest, platform, user, created, shells})),
        }
        // A config-only read finishing after a full one does not replace it.
        if (withFiles || !cache.get(key)?.withFiles) remember(key, value)
        return value
      })
      const entry = {withFiles, read}
      reading.set(key, entry)
      void read.catch(() => undefined).finally(() => reading.get(key) === entry && reading.delete(key))
    }
    return {facts: await read, digest}
  }

  return async (images, namespace, policy) => {
    if (!needsImageFacts(policy)) return images.map(() => [])
    const budget = reviewBudget(options.connection, options.budgetMs, '--image-facts-timeout')
    const withFiles = policy.forbidShell
    const at = now()
    return Promise.all(
      images.map(async (image): Promise<PolicyViolation[]> => {
        const verdict = evaluateImage(image, {namespace}, policy)
        // Exempt images need nothing; refused ones are refused already.
        if (!verdict.allowed || verdict.exempt || !verdict.reference) return []
        try {
          const {facts, digest} = await budget.within(factsOf(verdict.reference, image, withFiles, budget.connection))
          const label = verdict.reference.digest ? image : `${image} (resolved to ${digest})`
          return imageFactViolations(label, facts.facts, policy, at)
        } catch (error) {
          const message = `the contents of ${image} could not be read: ${safeErrorMessage(error)}`
          if (policy.imageFactsFailurePolicy === 'Ignore') {
            options.log?.({level: 'warn', event: 'image-facts-unreadable', image, message, admitted: true})
            return []
          }
          return [{rule: 'image-facts-unreadable', message: `${message} (imageFactsFailurePolicy: Fail)`}]
        }
      }),
    )
  }
}

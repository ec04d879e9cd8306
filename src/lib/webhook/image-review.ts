import {evaluateImage, type ImagePolicy, type ImageVerdict, type PolicyViolation} from '../policy/policy.js'

// Verdicts depend only on the image, the namespace and the policy: each pair is evaluated once per
// policy load (a reload makes a new policy object), at most VERDICT_CACHE_SIZE kept.
const VERDICT_CACHE_SIZE = 4096
const verdictCaches = new WeakMap<ImagePolicy, Map<string, ImageVerdict>>()

function cachedVerdict(image: string, namespace: string | undefined, policy: ImagePolicy): ImageVerdict {
  let cache = verdictCaches.get(policy)
  if (!cache) {
    cache = new Map()
    verdictCaches.set(policy, cache)
  }
  const key = `${namespace ?? ''}\u0000${image}`
  let verdict = cache.get(key)
  if (!verdict) {
    verdict = evaluateImage(image, {namespace}, policy)
    if (cache.size >= VERDICT_CACHE_SIZE) cache.clear()
    cache.set(key, verdict)
  }
  return verdict
}

/** The annotation the Kubernetes docs use for break-glass; the API server forwards only keys containing `.image-policy.k8s.io/`. */
export const BREAK_GLASS_ANNOTATION = 'alpha.image-policy.k8s.io/break-glass'
export const IMAGE_REVIEW_API_VERSION = 'imagepolicy.k8s.io/v1alpha1'

export interface ImageReviewRequest {
  apiVersion: string
  kind: 'ImageReview'
  spec: {
    containers?: Array<{image?: string}>
    annotations?: Record<string, string>
    namespace?: string
  }
}

export interface ImageReviewResponse {
  apiVersion: string
  kind: 'ImageReview'
  status: {
    allowed: boolean
    reason?: string
    auditAnnotations?: Record<string, string>
  }
}

export interface ImageReviewDecision {
  response: ImageReviewResponse
  verdicts: ImageVerdict[]
  breakGlass: boolean
}

/** The images of a review, in order ('' for a container without one). */
export function reviewImages(review: ImageReviewRequest): string[] {
  return (review.spec.containers ?? []).map((container) =>
    typeof container?.image === 'string' ? container.image : '',
  )
}

/** Why a request body is not an ImageReview we can answer, or undefined when it is one. */
export function imageReviewProblem(body: unknown): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON ImageReview object'
  const review = body as Record<string, unknown>
  if (review.apiVersion !== IMAGE_REVIEW_API_VERSION)
    return `apiVersion must be ${IMAGE_REVIEW_API_VERSION}, not ${describeField(review.apiVersion)}`
  if (review.kind !== 'ImageReview') return `kind must be ImageReview, not ${describeField(review.kind)}`
  const spec = review.spec as Record<string, unknown> | undefined
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return 'spec is missing'
  // Every field is type-checked: what is logged or answered later must be what the API server sends.
  if (spec.namespace !== undefined && typeof spec.namespace !== 'string') return 'spec.namespace must be a string'
  if (spec.containers !== undefined && !Array.isArray(spec.containers)) return 'spec.containers must be a list'
  const containers = (spec.containers ?? []) as unknown[]
  if (containers.length > MAX_REVIEW_CONTAINERS)
    return `spec.containers has ${containers.length} entries; at most ${MAX_REVIEW_CONTAINERS} are reviewed`
  for (const [index, container] of containers.entries()) {
    if (!container || typeof container !== 'object' || Array.isArray(container))
      return `spec.containers[${index}] must be an object`
    const image = (container as Record<string, unknown>).image
    if (image !== undefined && typeof image !== 'string') return `spec.containers[${index}].image must be a string`
    if (typeof image === 'string' && image.length > MAX_IMAGE_LENGTH)
      return `spec.containers[${index}].image is longer than ${MAX_IMAGE_LENGTH} characters`
  }
  if (
    spec.annotations !== undefined &&
    (typeof spec.annotations !== 'object' || spec.annotations === null || Array.isArray(spec.annotations))
  )
    return 'spec.annotations must be a map'
  for (const [key, value] of Object.entries((spec.annotations ?? {}) as Record<string, unknown>)) {
    if (typeof value !== 'string') return `spec.annotations["${key.slice(0, 100)}"] must be a string`
  }
  return undefined
}

/** A value named in a refusal, short and without structure (never a whole nested object). */
function describeField(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 100))
  return value === undefined ? 'missing' : Array.isArray(value) ? 'a list' : typeof value
}

/**
 * A pod has tens of containers at most; the limit keeps one request from costing a large answer
 * and event-loop time (every image is parsed and named in the reason).
 */
export const MAX_REVIEW_CONTAINERS = 1000
/** Far beyond any real reference (distribution allows 255 characters of path plus a digest). */
export const MAX_IMAGE_LENGTH = 4096
/** The reason names this many refusals, then how many more: the answer stays small. */
const MAX_REASONS = 20

/**
 * Decide an ImageReview with the shared policy engine. The API server lists init and ephemeral
 * containers in spec.containers too. Break-glass is the backend's job (Kubernetes has none): the
 * annotation lets a refused pod through, unless the policy turns it off, and says so in the audit
 * annotations so the use is on record.
 */
export function decideImageReview(
  review: ImageReviewRequest,
  policy: ImagePolicy,
  signatureViolations: PolicyViolation[][] = [],
): ImageReviewDecision {
  const namespace = review.spec.namespace
  const annotations = review.spec.annotations ?? {}
  const images = reviewImages(review)
  const verdicts = images.map((image, index) => {
    const verdict = cachedVerdict(image, namespace, policy)
    const extra = signatureViolations[index] ?? []
    return extra.length === 0 ? verdict : {...verdict, allowed: false, violations: [...verdict.violations, ...extra]}
  })
  const refused = verdicts.filter((verdict) => !verdict.allowed)
  const breakGlass = refused.length > 0 && policy.breakGlass && annotations[BREAK_GLASS_ANNOTATION] === 'true'
  const allowed = refused.length === 0 || breakGlass
  const allReasons = refused.flatMap((verdict) =>
    verdict.violations.map((violation) => `${violation.rule}: ${violation.message}`),
  )
  const reasons =
    allReasons.length > MAX_REASONS
      ? [...allReasons.slice(0, MAX_REASONS), `… and ${allReasons.length - MAX_REASONS} more`]
      : allReasons
  const auditAnnotations: Record<string, string> = {decision: allowed ? 'allowed' : 'denied'}
  if (refused.length > 0)
    auditAnnotations['refused-images'] =
      refused
        .slice(0, MAX_REASONS)
        .map((verdict) => verdict.image)
        .join(',') + (refused.length > MAX_REASONS ? `,… (${refused.length - MAX_REASONS} more)` : '')
  if (breakGlass) auditAnnotations['break-glass'] = 'true'
  const exempt = verdicts.find((verdict) => verdict.exempt)
  if (exempt) auditAnnotations.exempt = exempt.exempt!
  let reason: string | undefined
  if (!allowed)
    reason = `image policy (kubectl-imgsec) refused ${refused.length} image${refused.length === 1 ? '' : 's'}: ${reasons.join('; ')}`
  else if (breakGlass)
    reason = `break-glass annotation ${BREAK_GLASS_ANNOTATION}=true let refused images through: ${reasons.join('; ')}`
  return {
    response: {
      apiVersion: IMAGE_REVIEW_API_VERSION,
      kind: 'ImageReview',
      status: {allowed, ...(reason ? {reason} : {}), auditAnnotations},
    },
    verdicts,
    breakGlass,
  }
}

import {evaluateImage, type ImagePolicy, type ImageVerdict} from '../policy/policy.js'

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

/** Why a request body is not an ImageReview we can answer, or undefined when it is one. */
export function imageReviewProblem(body: unknown): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON ImageReview object'
  const review = body as Record<string, unknown>
  if (review.apiVersion !== IMAGE_REVIEW_API_VERSION) return `apiVersion must be ${IMAGE_REVIEW_API_VERSION}, not ${JSON.stringify(review.apiVersion)}`
  if (review.kind !== 'ImageReview') return `kind must be ImageReview, not ${JSON.stringify(review.kind)}`
  const spec = review.spec as Record<string, unknown> | undefined
  if (!spec || typeof spec !== 'object') return 'spec is missing'
  if (spec.containers !== undefined && !Array.isArray(spec.containers)) return 'spec.containers must be a list'
  if (spec.annotations !== undefined && (typeof spec.annotations !== 'object' || spec.annotations === null)) return 'spec.annotations must be a map'
  return undefined
}

/**
 * Decide an ImageReview with the shared policy engine. The API server lists init and ephemeral
 * containers in spec.containers too. Break-glass is the backend's job (Kubernetes has none): the
 * annotation lets a refused pod through, unless the policy turns it off, and says so in the audit
 * annotations so the use is on record.
 */
export function decideImageReview(review: ImageReviewRequest, policy: ImagePolicy): ImageReviewDecision {
  const namespace = review.spec.namespace
  const annotations = review.spec.annotations ?? {}
  const images = (review.spec.containers ?? []).map((container) => (typeof container?.image === 'string' ? container.image : ''))
  const verdicts = images.map((image) => evaluateImage(image, {namespace, annotations}, policy))
  const refused = verdicts.filter((verdict) => !verdict.allowed)
  const breakGlass = refused.length > 0 && policy.breakGlass && annotations[BREAK_GLASS_ANNOTATION] === 'true'
  const allowed = refused.length === 0 || breakGlass
  const reasons = refused.flatMap((verdict) => verdict.violations.map((violation) => `${violation.rule}: ${violation.message}`))
  const auditAnnotations: Record<string, string> = {decision: allowed ? 'allowed' : 'denied'}
  if (refused.length > 0) auditAnnotations['refused-images'] = refused.map((verdict) => verdict.image).join(',')
  if (breakGlass) auditAnnotations['break-glass'] = 'true'
  const exempt = verdicts.find((verdict) => verdict.exempt)
  if (exempt) auditAnnotations.exempt = exempt.exempt!
  let reason: string | undefined
  if (!allowed) reason = `image policy (kubectl-imgsec) refused ${refused.length} image${refused.length === 1 ? '' : 's'}: ${reasons.join('; ')}`
  else if (breakGlass) reason = `break-glass annotation ${BREAK_GLASS_ANNOTATION}=true let refused images through: ${reasons.join('; ')}`
  return {
    response: {apiVersion: IMAGE_REVIEW_API_VERSION, kind: 'ImageReview', status: {allowed, ...(reason ? {reason} : {}), auditAnnotations}},
    verdicts,
    breakGlass,
  }
}

// The backend's requireSignature: before a pod is admitted, each image of a covered repository
// must be pinned by digest and carry a valid signature by a trusted key or keyless identity.
// Verified digests are cached (a digest's content never changes; a key, trusted root or identity
// changed in the policy changes the cache key);
// refusals are not, so an image signed after a refusal is admitted on the next try. All
// verifications of one review share one time budget: the API server waits for the answer.
import {safeErrorMessage} from '../describe-error.js'
import {credentialForImage, type DockerCredential} from '../image/docker-config.js'
import type {RegistryConnection} from '../image/registry-client.js'
import {evaluateImage, type ImagePolicy, type PolicyViolation} from '../policy/policy.js'
import {type SignatureRequirement, signatureRequirementFor} from '../policy/signature-policy.js'
import {verifyImageSignature} from '../signature/verify.js'
import {reviewBudget} from './review-budget.js'

export interface SignatureGateOptions {
  /** TLS settings for the registries. */
  connection?: Omit<RegistryConnection, 'timeoutMs' | 'deadline'>
  /** Registry credentials (`--docker-config`). */
  credentials?: DockerCredential[]
  /** How long all verifications of one review may take together. */
  budgetMs: number
  /** How long a verified digest stays trusted without asking the registry again. */
  cacheTtlMs?: number
  maxCacheEntries?: number
  now?: () => number
}

export type SignatureGate = (
  images: string[],
  namespace: string | undefined,
  policy: ImagePolicy,
) => Promise<PolicyViolation[][]>

/** What the cache remembers a verification under: the keys, the trusted root and the identities. */
function trustKey(requirement: SignatureRequirement): string {
  const keys = requirement.keys.map((trusted) => trusted.hint).join(',')
  if (!requirement.keyless) return keys
  return `${keys} ${requirement.keyless.root.fingerprint} ${JSON.stringify(requirement.keyless.identities)}`
}

export function createSignatureGate(options: SignatureGateOptions): SignatureGate {
  const now = options.now ?? Date.now
  const ttl = options.cacheTtlMs ?? 10 * 60_000
  const maxEntries = options.maxCacheEntries ?? 10_000
  const verified = new Map<string, number>()
  const remember = (key: string) => {
    verified.delete(key)
    verified.set(key, now() + ttl)
    // Oldest first: Map keeps insertion order.
    while (verified.size > maxEntries) verified.delete(verified.keys().next().value!)
  }
  return async (images, namespace, policy) => {
    const {connection} = reviewBudget(options.connection, options.budgetMs, '--signature-timeout')
    return Promise.all(
      images.map(async (image): Promise<PolicyViolation[]> => {
        const verdict = evaluateImage(image, {namespace}, policy)
        // Exempt images need nothing; refused ones are refused already.
        if (!verdict.allowed || verdict.exempt || !verdict.reference) return []
        const reference = verdict.reference
        const requirement = signatureRequirementFor(policy.requireSignature, reference)
        if (!requirement) return []
        if (!reference.digest)
          return [
            {
              rule: 'image-signature-missing',
              message: `${image} is not pinned by digest: pin by digest to verify its signature (requireSignature)`,
            },
          ]
        const name = `${reference.registry}/${reference.repository}@${reference.digest}`
        const key = `${name} ${trustKey(requirement)}`
        const until = verified.get(key)
        if (until !== undefined && until > now()) return []
        try {
          const result = await verifyImageSignature(
            {registry: reference.registry, repository: reference.repository, digest: reference.digest},
            requirement,
            {connection, credentials: credentialForImage(options.credentials ?? [], reference)},
          )
          if (result.status === 'verified') {
            remember(key)
            return []
          }
          if (result.status === 'missing')
            return [{rule: 'image-signature-missing', message: `${name} has no signature (requireSignature)`}]
          return [{rule: 'image-signature-invalid', message: `${name}: ${result.reasons.join('; ')}`}]
        } catch (error) {
          // Fail closed: an image whose signature cannot be checked is not admitted.
          return [
            {
              rule: 'image-signature-missing',
              message: `the signature of ${name} could not be checked: ${safeErrorMessage(error)}`,
            },
          ]
        }
      }),
    )
  }
}

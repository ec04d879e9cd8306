import {globToRegExp} from '../glob.js'
import type {SignatureRequirement} from './signature-policy.js'
import {
  DOCKER_HUB,
  effectiveTag,
  type ImageReference,
  ImageReferenceError,
  imageName,
  normalizeImageReference,
  parseImageReference,
} from '../image/image-reference.js'

/**
 * One policy engine for images, shared unchanged by `audit images`, the ImagePolicyWebhook
 * backend and the ValidatingAdmissionPolicy renderer: a pure function from an image, its context
 * and a policy to a verdict with reasons.
 */
export interface ImagePolicy {
  /** Registry allowlist; undefined = any registry. Entries: host, host:port, host/path prefix, *.domain. */
  allowedRegistries?: string[]
  denyLatest: boolean
  denyUntagged: boolean
  requireDigest: boolean
  /** Namespaces whose images are never refused (kube-system by default). */
  exemptNamespaces: string[]
  /** Image patterns never refused: `registry.k8s.io/*`, `docker.io/library/busybox:1.36` (glob on the normalised reference). */
  exemptImages: string[]
  /** Registries that need credentials (for the pull-secret audit check). */
  privateRegistries: string[]
  /** Honour the `alpha.image-policy.k8s.io/break-glass: "true"` annotation (webhook). */
  breakGlass: boolean
  /** Let workloads exempt themselves with the `imgsec.io/ignore` annotation (audit). */
  allowAnnotationExemptions: boolean
  /** `--inspect` and the webhook: an image whose config runs as root is refused (webhook) or critical (audit). */
  requireNonRootImage: boolean
  /** `--inspect` and the webhook: an image with a shell is refused (webhook) or high (audit). */
  forbidShell: boolean
  /**
   * `--inspect` and the webhook: images built longer ago than this many days are stale (image-stale).
   * Unset, the audit uses DEFAULT_MAX_IMAGE_AGE_DAYS and admission refuses no image for its age.
   */
  maxImageAgeDays?: number
  /** The webhook: an image whose contents cannot be read within the review's time budget is refused (Fail, the default) or admitted (Ignore). */
  imageFactsFailurePolicy?: 'Fail' | 'Ignore'
  /** Audit findings the policy owner accepts: a check, optionally narrowed to a namespace, kind, name or container (globs with *). */
  exemptions: AuditExemption[]
  /** Repositories whose images must be signed by trusted keys (checked with I/O: audit --verify-signatures, webhook). */
  requireSignature?: SignatureRequirement[]
}

export interface AuditExemption {
  check: string
  namespace?: string
  kind?: string
  name?: string
  container?: string
  /** Why it is accepted: required, so that the exemption explains itself in review. */
  reason: string
}

/** The age image-stale allows when the policy sets no maxImageAgeDays. */
export const DEFAULT_MAX_IMAGE_AGE_DAYS = 365

export const DEFAULT_POLICY: ImagePolicy = Object.freeze({
  allowedRegistries: undefined,
  denyLatest: true,
  denyUntagged: true,
  requireDigest: false,
  exemptNamespaces: ['kube-system'],
  exemptImages: [],
  privateRegistries: [],
  breakGlass: true,
  allowAnnotationExemptions: true,
  requireNonRootImage: false,
  forbidShell: false,
  exemptions: [],
}) as ImagePolicy

/** Does the policy ask admission to read images (requireNonRootImage, forbidShell, maxImageAgeDays)? */
export function needsImageFacts(policy: ImagePolicy): boolean {
  return policy.requireNonRootImage || policy.forbidShell || policy.maxImageAgeDays !== undefined
}

export type PolicyRuleId =
  | 'image-reference-invalid'
  | 'image-tag-latest'
  | 'image-tag-missing'
  | 'image-digest-missing'
  | 'image-registry-not-allowed'
  // Decided with I/O by the webhook backend's signature gate, not by evaluateImage.
  | 'image-signature-missing'
  | 'image-signature-invalid'
  // Decided with I/O by the webhook backend's image-facts gate.
  | 'image-runs-as-root'
  | 'image-has-shell'
  | 'image-stale'
  | 'image-facts-unreadable'

export interface PolicyViolation {
  rule: PolicyRuleId
  message: string
}

export interface ImageContext {
  namespace?: string
  annotations?: Record<string, string>
}

export interface ImageVerdict {
  image: string
  allowed: boolean
  reference?: ImageReference
  /** Why the policy does not apply, when it does not. */
  exempt?: 'namespace' | 'image'
  violations: PolicyViolation[]
}

// The kubelet and containerd treat these as Docker Hub too.
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io'])

function canonicalRegistry(registry: string): string {
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase()) ? DOCKER_HUB : registry.toLowerCase()
}

const REGISTRY_PATTERN =
  /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*\/?$/

/** Why an allowlist entry is malformed, or undefined. */
export function registryPatternProblem(pattern: string): string | undefined {
  if (!REGISTRY_PATTERN.test(pattern.toLowerCase())) {
    return 'expected a registry host (registry.k8s.io), host:port (myregistry.com:5000), host/path prefix (gcr.io/my-project) or wildcard domain (*.example.com)'
  }
  if (pattern.startsWith('*.') && pattern.includes('/')) return 'a wildcard domain cannot have a path'
  return undefined
}

/**
 * Does `ref` come from a registry the pattern allows? A pattern without a port matches only
 * registries without one (host:5000 is another server); a path prefix matches whole path
 * components (gcr.io/team does not allow gcr.io/team-b).
 */
export function registryMatches(pattern: string, ref: ImageReference): boolean {
  return compiledMatches(compileRegistryPattern(pattern), canonicalRegistry(ref.registry), ref)
}

interface RegistryPattern {
  host: string
  path: string
}

function compileRegistryPattern(pattern: string): RegistryPattern {
  const normalized = pattern.toLowerCase().replace(/\/$/, '')
  const slash = normalized.indexOf('/')
  return {
    host: canonicalRegistry(slash >= 0 ? normalized.slice(0, slash) : normalized),
    path: slash >= 0 ? normalized.slice(slash + 1) : '',
  }
}

function compiledMatches({host, path}: RegistryPattern, registry: string, ref: ImageReference): boolean {
  const hostMatches = host.startsWith('*.')
    ? registry.endsWith(host.slice(1)) && !registry.slice(0, -host.length + 1).includes(':')
    : registry === host
  if (!hostMatches) return false
  if (!path) return true
  return ref.repository === path || ref.repository.startsWith(`${path}/`)
}

// A policy's allowlist and exempt-image globs, compiled once per policy load (keyed by the lists
// themselves: a reload makes new ones), not for every image of every review.
const compiledRegistries = new WeakMap<readonly string[], RegistryPattern[]>()
const compiledGlobs = new WeakMap<readonly string[], RegExp[]>()

function allowedByRegistries(patterns: readonly string[], ref: ImageReference): boolean {
  let compiled = compiledRegistries.get(patterns)
  if (!compiled) {
    compiled = patterns.map(compileRegistryPattern)
    compiledRegistries.set(patterns, compiled)
  }
  const registry = canonicalRegistry(ref.registry)
  return compiled.some((pattern) => compiledMatches(pattern, registry, ref))
}

function exemptByImages(patterns: readonly string[], image: string, ref: ImageReference | undefined): boolean {
  if (patterns.length === 0) return false
  let compiled = compiledGlobs.get(patterns)
  if (!compiled) {
    compiled = patterns.map((pattern) => globToRegExp(pattern))
    compiledGlobs.set(patterns, compiled)
  }
  if (compiled.some((regex) => regex.test(image))) return true
  if (!ref) return false
  const normalized = normalizeImageReference(ref)
  const name = imageName(ref)
  return compiled.some((regex) => regex.test(normalized) || regex.test(name))
}

/** Evaluate one image against the policy. Pure: no I/O, no clock. */
export function evaluateImage(image: string, context: ImageContext, policy: ImagePolicy): ImageVerdict {
  let reference: ImageReference | undefined
  let invalidReason = ''
  try {
    reference = parseImageReference(image)
  } catch (error) {
    if (!(error instanceof ImageReferenceError)) throw error
    invalidReason = error.reason
  }
  if (context.namespace !== undefined && policy.exemptNamespaces.includes(context.namespace)) {
    return {image, allowed: true, reference, exempt: 'namespace', violations: []}
  }
  if (exemptByImages(policy.exemptImages, image, reference)) {
    return {image, allowed: true, reference, exempt: 'image', violations: []}
  }
  if (!reference) {
    return {
      image,
      allowed: false,
      violations: [
        {rule: 'image-reference-invalid', message: `"${image}" is not a valid image reference: ${invalidReason}`},
      ],
    }
  }
  const violations: PolicyViolation[] = []
  if (policy.allowedRegistries && !allowedByRegistries(policy.allowedRegistries, reference)) {
    violations.push({
      rule: 'image-registry-not-allowed',
      message: `registry ${reference.registry} of ${image} is not in the allowed registries (${policy.allowedRegistries.join(', ')})`,
    })
  }
  if (!reference.tag && !reference.digest) {
    if (policy.denyUntagged)
      violations.push({rule: 'image-tag-missing', message: `${image} has no tag, so it means :latest; name a version`})
  } else if (policy.denyLatest && effectiveTag(reference) === 'latest') {
    violations.push({rule: 'image-tag-latest', message: `${image} uses the mutable tag :latest; name a version`})
  }
  if (policy.requireDigest && !reference.digest) {
    violations.push({rule: 'image-digest-missing', message: `${image} is not pinned by digest (@sha256:…)`})
  }
  return {image, allowed: violations.length === 0, reference, violations}
}

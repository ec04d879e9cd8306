/**
 * Image references, parsed and normalised exactly as the distribution reference grammar
 * (github.com/distribution/reference, used by the kubelet and containerd) does.
 */

export const DOCKER_HUB = 'docker.io'
const LEGACY_DOCKER_HUB = 'index.docker.io'
const MAX_NAME_LENGTH = 255

export interface ImageReference {
  /** The string as written in the manifest. */
  original: string
  /** Registry host with optional port: `docker.io`, `myprivateregistry.com:5000`. */
  registry: string
  /** Path in the registry: `library/nginx`. */
  repository: string
  /** The tag as written; undefined when none was written (Kubernetes then pulls `latest`, unless a digest is given). */
  tag?: string
  /** `sha256:…` when pinned by digest. */
  digest?: string
}

export class ImageReferenceError extends Error {
  constructor(
    readonly reference: string,
    readonly reason: string,
  ) {
    super(`invalid image reference "${reference}": ${reason}`)
    this.name = 'ImageReferenceError'
  }
}

// Grammar pieces (distribution/reference regexp.go).
const ALPHANUMERIC = '[a-z0-9]+'
const SEPARATOR = '(?:[._]|__|[-]+)'
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]'
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})`
const DOMAIN = `${HOST}(?::[0-9]+)?`
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`)
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`)
const PATH_ANYCASE_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`, 'i')
const DIGEST_HEX_LENGTH: Record<string, number> = {sha256: 64, sha384: 96, sha512: 128}

/** Parse an image reference, normalising Docker Hub short names (`nginx` → `docker.io/library/nginx`). Throws ImageReferenceError with the reason. */
export function parseImageReference(original: string): ImageReference {
  const fail = (reason: string): never => {
    throw new ImageReferenceError(original, reason)
  }
  if (original === '') fail('repository name must have at least one component')
  if (original !== original.trim()) fail('invalid reference format: surrounding whitespace')
  if (/^[a-f0-9]{64}$/.test(original)) fail('cannot specify 64-byte hexadecimal strings as a repository name')

  let rest = original
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) fail('invalid digest format')
    const [algorithm, hex] = digest.split(':')
    const expected = DIGEST_HEX_LENGTH[algorithm]
    if (expected === undefined) fail(`unsupported digest algorithm "${algorithm}"`)
    if (hex.length !== expected || !/^[a-f0-9]+$/.test(hex))
      fail(`invalid ${algorithm} digest: expected ${expected} lowercase hex characters`)
  }

  // A tag is after the last ':' that comes after the last '/' (a ':' before it is a port).
  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.indexOf(':', lastSlash + 1)
  if (colon >= 0) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) fail(tag === '' ? 'empty tag' : 'invalid tag format')
  }

  // The first component is a registry only if it looks like a host: it has '.' or ':', is
  // localhost, or has an uppercase letter (distribution's splitDockerDomain).
  let registry: string
  let repository: string
  const slash = rest.indexOf('/')
  const first = slash >= 0 ? rest.slice(0, slash) : ''
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    registry = DOCKER_HUB
    repository = rest
  } else {
    registry = first
    repository = rest.slice(slash + 1)
  }
  if (registry === LEGACY_DOCKER_HUB) registry = DOCKER_HUB
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`

  if (!DOMAIN_RE.test(registry)) fail(`invalid registry host "${registry}"`)
  if (repository === '' || repository.split('/').includes(''))
    fail('repository name must have at least one component and no empty path components')
  if (!PATH_RE.test(repository)) {
    fail(PATH_ANYCASE_RE.test(repository) ? 'repository name must be lowercase' : 'invalid reference format')
  }
  // distribution/reference v0.6 (current kubelet and containerd) limits the path only; older
  // releases counted the domain too and refused valid names.
  if (repository.length > MAX_NAME_LENGTH) fail(`repository path must not be more than ${MAX_NAME_LENGTH} characters`)
  return {original, registry, repository, tag, digest}
}

/** `docker.io/library/nginx` */
export function imageName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`
}

/** The tag Kubernetes uses: the written one, or `latest` when neither tag nor digest was written. */
export function effectiveTag(ref: ImageReference): string | undefined {
  return ref.tag ?? (ref.digest ? undefined : 'latest')
}

/** Fully qualified form: `docker.io/library/nginx:latest`, `reg:5000/app:1.0@sha256:…`. */
export function normalizeImageReference(ref: ImageReference): string {
  const tag = effectiveTag(ref)
  return `${imageName(ref)}${tag ? `:${tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`
}

/** Shortest familiar form, as `docker` prints it: `nginx:1.25`, `myorg/app`, `gcr.io/x/y:1`. */
export function familiarImageName(ref: ImageReference): string {
  let name = imageName(ref)
  if (ref.registry === DOCKER_HUB) {
    name =
      ref.repository.startsWith('library/') && ref.repository.split('/').length === 2
        ? ref.repository.slice(8)
        : ref.repository
  }
  return `${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`
}

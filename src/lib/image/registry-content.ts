// Reading what a repository holds (manifests, blobs, the OCI 1.1 referrers list) for the
// signature checks, through image-source.ts's registry source: the one registry auth flow of
// registry-client.ts, one token per repository access reused for every request. Content is checked
// against its digest before use: a registry (or a proxy) that serves other bytes than it names is
// refused, never trusted.
import {UserError} from '../errors.js'
import {registrySource, type RegistrySource, sha256} from './image-source.js'
import {MANIFEST_ACCEPT, type RegistryConnection, type RegistryCredentials} from './registry-client.js'

/** One repository of one registry, and how to reach it. Reuse the object to reuse its token. */
export interface RepositoryAccess {
  registry: string
  repository: string
  connection: RegistryConnection
  credentials?: RegistryCredentials
}

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  artifactType?: string
  annotations?: Record<string, string>
}

export interface FetchedManifest {
  digest: string
  mediaType: string
  bytes: Buffer
  /** The manifest's layers (image manifest) or manifests (index). */
  descriptors: Descriptor[]
  annotations?: Record<string, string>
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'

function describeDescriptors(value: unknown): Descriptor[] {
  if (!Array.isArray(value)) return []
  return value.filter(
    (entry): entry is Descriptor =>
      typeof entry === 'object' &&
      entry !== null &&
      typeof (entry as Descriptor).digest === 'string' &&
      typeof (entry as Descriptor).mediaType === 'string',
  )
}

const sources = new WeakMap<RepositoryAccess, RegistrySource>()

/** The registry source of `access`, made once per access object (so its token is reused). */
function sourceOf(access: RepositoryAccess): RegistrySource {
  let source = sources.get(access)
  if (!source) {
    source = registrySource(access, access.connection, access.credentials, '--docker-config')
    sources.set(access, source)
  }
  return source
}

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as unknown
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>
  } catch {}
  throw new UserError(`${what} is not a JSON object`)
}

/**
 * The manifest a tag or digest names, or undefined when the repository has none (404). A manifest
 * asked by digest must hash to it.
 */
export async function fetchManifest(access: RepositoryAccess, reference: string): Promise<FetchedManifest | undefined> {
  const response = await sourceOf(access).read(`manifests/${encodeURIComponent(reference)}`, MANIFEST_ACCEPT)
  const name = `${access.registry}/${access.repository}`
  if (response.status === 404) return undefined
  if (response.status !== 200)
    throw new UserError(`cannot read manifest ${reference} of ${name}: the registry answered HTTP ${response.status}`)
  const digest = sha256(response.bytes)
  if (reference.startsWith('sha256:') && digest !== reference)
    throw new UserError(`the registry served manifest ${reference} of ${name} with other content (${digest})`)
  const body = parseJson(response.bytes, `manifest ${reference} of ${name}`)
  const mediaType = typeof body.mediaType === 'string' ? body.mediaType : String(response.headers['content-type'] ?? '')
  return {
    digest,
    mediaType,
    bytes: response.bytes,
    descriptors: describeDescriptors(
      mediaType === OCI_INDEX || Array.isArray(body.manifests) ? body.manifests : body.layers,
    ),
    annotations: body.annotations as Record<string, string> | undefined,
  }
}

/** A blob, checked against its digest (a body over the 1 MiB limit cannot match and is refused). */
export async function fetchBlob(access: RepositoryAccess, digest: string): Promise<Buffer> {
  const response = await sourceOf(access).read(`blobs/${encodeURIComponent(digest)}`)
  const name = `${access.registry}/${access.repository}`
  if (response.status !== 200)
    throw new UserError(`cannot read blob ${digest} of ${name}: the registry answered HTTP ${response.status}`)
  if (sha256(response.bytes) !== digest)
    throw new UserError(`the registry served blob ${digest} of ${name} with other content (or over 1 MiB)`)
  return response.bytes
}

/**
 * The OCI 1.1 referrers of a digest, or undefined when the registry has no referrers API (404 on
 * the endpoint: clients then fall back to the `sha256-<hex>` tag of the referrers tag schema).
 */
export async function fetchReferrers(access: RepositoryAccess, digest: string): Promise<Descriptor[] | undefined> {
  const response = await sourceOf(access).read(`referrers/${encodeURIComponent(digest)}`, OCI_INDEX)
  if (response.status === 404) return undefined
  const name = `${access.registry}/${access.repository}`
  if (response.status !== 200)
    throw new UserError(`cannot list referrers of ${digest} in ${name}: the registry answered HTTP ${response.status}`)
  return describeDescriptors(parseJson(response.bytes, `the referrers list of ${digest} in ${name}`).manifests)
}

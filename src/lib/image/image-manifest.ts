// Image manifests as registries and archives store them: Docker v2 schema 2 and OCI manifests,
// and the indexes (manifest lists) that point at one manifest per platform.
import {UserError} from '../errors.js'

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: Platform
  annotations?: Record<string, string>
}

export interface Platform {
  os: string
  architecture: string
  variant?: string
}

export interface ImageManifest {
  kind: 'manifest'
  config: Descriptor
  layers: Descriptor[]
}

export interface ImageIndex {
  kind: 'index'
  manifests: Descriptor[]
}

const DIGEST = /^sha256:[a-f0-9]{64}$/

function descriptor(value: unknown, where: string): Descriptor {
  const d = value as Partial<Descriptor> | null
  if (!d || typeof d !== 'object' || typeof d.digest !== 'string' || !DIGEST.test(d.digest))
    throw new UserError(`${where}: a descriptor has no sha256 digest`)
  const size = typeof d.size === 'number' && d.size >= 0 ? d.size : 0
  const platform = d.platform && typeof d.platform === 'object' ? d.platform : undefined
  const annotations = d.annotations && typeof d.annotations === 'object' ? d.annotations : undefined
  return {
    mediaType: String(d.mediaType ?? ''),
    digest: d.digest,
    size,
    ...(platform ? {platform} : {}),
    ...(annotations ? {annotations} : {}),
  }
}

/** Parse a manifest or an index; `where` names it in errors (`registry.example.com/app:1.0`). */
export function parseManifest(text: string, where: string, contentType?: string): ImageManifest | ImageIndex {
  let json: {schemaVersion?: number; mediaType?: string; manifests?: unknown[]; config?: unknown; layers?: unknown[]}
  try {
    json = JSON.parse(text) as typeof json
  } catch {
    throw new UserError(`${where}: the manifest is not JSON`)
  }
  if (!json || typeof json !== 'object') throw new UserError(`${where}: the manifest is not a JSON object`)
  if (json.schemaVersion === 1)
    throw new UserError(
      `${where}: Docker schema 1 manifests are not supported (push the image again with a current docker)`,
    )
  const mediaType = json.mediaType ?? contentType ?? ''
  if (Array.isArray(json.manifests) || mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerList)
    return {kind: 'index', manifests: (json.manifests ?? []).map((m) => descriptor(m, where))}
  if (!Array.isArray(json.layers) || json.config === undefined)
    throw new UserError(`${where}: the manifest has no config or layers (media type "${mediaType || 'none'}")`)
  return {
    kind: 'manifest',
    config: descriptor(json.config, where),
    layers: json.layers.map((l) => descriptor(l, where)),
  }
}

/** `linux/arm64/v8` → a platform; a mistake names the flag. */
export function parsePlatform(text: string, flag = '--platform'): Platform {
  const [os, architecture, variant, ...rest] = text.split('/')
  if (!os || !architecture || rest.length > 0 || variant === '')
    throw new UserError(`${flag} "${text}": expected OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64 or linux/arm64/v8`)
  return {os, architecture, ...(variant ? {variant} : {})}
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/')
}

/** arm64 without a variant means v8, as containerd's platform matcher treats it. */
function sameVariant(a: Platform, b: Platform): boolean {
  const norm = (p: Platform) => (p.architecture === 'arm64' ? (p.variant ?? 'v8') : p.variant)
  return b.variant === undefined || norm(a) === norm(b)
}

/**
 * The index entries for the wanted platforms, in their order; a platform the index does not
 * offer is listed in `missing`. Attestation manifests (`unknown/unknown`) are never chosen.
 */
export function selectPlatforms(
  index: ImageIndex,
  wanted: Platform[],
): {chosen: Array<{platform: Platform; manifest: Descriptor}>; missing: Platform[]} {
  const chosen: Array<{platform: Platform; manifest: Descriptor}> = []
  const missing: Platform[] = []
  for (const platform of wanted) {
    const match = index.manifests.find(
      (m) =>
        m.platform?.os === platform.os &&
        m.platform.architecture === platform.architecture &&
        sameVariant(m.platform, platform),
    )
    if (match) chosen.push({platform: match.platform!, manifest: match})
    else missing.push(platform)
  }
  return {chosen, missing}
}

export const DEFAULT_PLATFORM: Platform = {os: 'linux', architecture: 'amd64'}

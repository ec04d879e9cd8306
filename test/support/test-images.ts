// Images built by the tests themselves: tar layers written here (tar-stream's packer), configs
// and manifests as docker and OCI write them, pushed through the registry API, or written as a
// `docker save` tarball or an OCI layout.
import {createHash} from 'node:crypto'
import {gzipSync} from 'node:zlib'

import {pack} from 'tar-stream'

import type {Credentials, PushedImage, RunningRegistry} from './registry.js'

export interface TestEntry {
  name: string
  type?: 'file' | 'directory' | 'symlink' | 'link'
  mode?: number
  linkname?: string
  content?: string | Buffer
}

export const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`

/** A tar of these entries (uncompressed). */
export async function tarOf(entries: TestEntry[]): Promise<Buffer> {
  const packer = pack()
  const chunks: Buffer[] = []
  const done = new Promise<void>((resolve, reject) => {
    packer.on('data', (chunk) => chunks.push(Buffer.from(chunk as Uint8Array)))
    packer.on('end', () => resolve())
    packer.on('error', reject)
  })
  for (const entry of entries) {
    const type = entry.type ?? 'file'
    const content = entry.content ?? (type === 'file' ? `content of ${entry.name}\n` : '')
    const header = {
      name: entry.name,
      type,
      mode: entry.mode ?? (type === 'directory' ? 0o755 : 0o644),
      linkname: entry.linkname,
    }
    if (type === 'file') packer.entry(header, content)
    else packer.entry(header, '')
  }
  packer.finalize()
  await done
  return Buffer.concat(chunks)
}

export interface TestLayer {
  tar: Buffer
  blob: Buffer
  compression: 'gzip' | 'none'
}

export async function layerOf(entries: TestEntry[], compression: 'gzip' | 'none' = 'gzip'): Promise<TestLayer> {
  const tar = await tarOf(entries)
  return {tar, blob: compression === 'gzip' ? gzipSync(tar) : tar, compression}
}

export interface TestImageSpec {
  layers: TestLayer[]
  user?: string
  created?: string
  env?: string[]
  labels?: Record<string, string>
  os?: string
  architecture?: string
  variant?: string
}

export interface BuiltImage {
  config: Buffer
  manifest: Buffer
  mediaType: string
  blobs: Buffer[]
  digest: string
}

/** Config and manifest for an image (docker v2 schema 2 or OCI). */
export function buildTestImage(spec: TestImageSpec, format: 'docker' | 'oci' = 'docker'): BuiltImage {
  const config = Buffer.from(
    JSON.stringify({
      architecture: spec.architecture ?? 'amd64',
      os: spec.os ?? 'linux',
      ...(spec.variant ? {variant: spec.variant} : {}),
      ...(spec.created ? {created: spec.created} : {}),
      config: {
        ...(spec.user === undefined ? {} : {User: spec.user}),
        Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(spec.labels ? {Labels: spec.labels} : {}),
      },
      rootfs: {type: 'layers', diff_ids: spec.layers.map((layer) => sha256(layer.tar))},
    }),
  )
  const docker = format === 'docker'
  const mediaType = docker
    ? 'application/vnd.docker.distribution.manifest.v2+json'
    : 'application/vnd.oci.image.manifest.v1+json'
  const layerType = (layer: TestLayer) =>
    docker
      ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
      : `application/vnd.oci.image.layer.v1.tar${layer.compression === 'gzip' ? '+gzip' : ''}`
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: docker
          ? 'application/vnd.docker.container.image.v1+json'
          : 'application/vnd.oci.image.config.v1+json',
        size: config.length,
        digest: sha256(config),
      },
      layers: spec.layers.map((layer) => ({
        mediaType: layerType(layer),
        size: layer.blob.length,
        digest: sha256(layer.blob),
      })),
    }),
  )
  return {config, manifest, mediaType, blobs: [...spec.layers.map((l) => l.blob), config], digest: sha256(manifest)}
}

/** An OCI index over images already built (their platforms from the specs). */
export function buildTestIndex(images: Array<{image: BuiltImage; spec: TestImageSpec}>): {
  manifest: Buffer
  digest: string
} {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images.map(({image, spec}) => ({
        mediaType: image.mediaType,
        size: image.manifest.length,
        digest: image.digest,
        platform: {
          os: spec.os ?? 'linux',
          architecture: spec.architecture ?? 'amd64',
          ...(spec.variant ? {variant: spec.variant} : {}),
        },
      })),
    }),
  )
  return {manifest, digest: sha256(manifest)}
}

export function pushTestImage(
  registry: RunningRegistry,
  repository: string,
  tag: string,
  image: BuiltImage,
  credentials?: Credentials,
): Promise<PushedImage> {
  return registry.pushContent(repository, tag, image, credentials)
}

/** Push every platform's image by digest, then the index under `tag`. */
export async function pushTestIndex(
  registry: RunningRegistry,
  repository: string,
  tag: string,
  specs: TestImageSpec[],
  credentials?: Credentials,
): Promise<{digest: string; images: BuiltImage[]}> {
  const images = specs.map((spec) => buildTestImage(spec, 'oci'))
  for (const image of images) await registry.pushContent(repository, image.digest, image, credentials)
  const index = buildTestIndex(images.map((image, i) => ({image, spec: specs[i]})))
  await registry.pushContent(
    repository,
    tag,
    {blobs: [], manifest: index.manifest, mediaType: 'application/vnd.oci.image.index.v1+json'},
    credentials,
  )
  return {digest: index.digest, images}
}

/** A Debian-like base: /bin/sh, bash, apt, dpkg, curl, and passwd setuid. */
export const DEBIAN_LIKE: TestEntry[] = [
  {name: 'bin/', type: 'directory'},
  {name: 'bin/bash', mode: 0o755},
  {name: 'bin/sh', type: 'symlink', linkname: 'bash'},
  {name: 'usr/bin/', type: 'directory'},
  {name: 'usr/bin/apt', mode: 0o755},
  {name: 'usr/bin/apt-get', mode: 0o755},
  {name: 'usr/bin/dpkg', mode: 0o755},
  {name: 'usr/bin/curl', mode: 0o755},
  {name: 'usr/bin/passwd', mode: 0o4755},
  {name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/bash\n'},
]

/** A distroless-like image: an app, CA certificates, no shell. */
export const DISTROLESS_LIKE: TestEntry[] = [
  {name: 'app/', type: 'directory'},
  {name: 'app/server', mode: 0o755},
  {name: 'etc/ssl/certs/ca-certificates.crt'},
  {name: 'etc/passwd', content: 'nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n'},
]

/** A `docker save` tarball: the classic layout (`<id>/layer.tar`, `<config>.json`) or docker 25's (OCI blobs). */
export async function dockerSaveTar(
  images: Array<{tag: string; spec: TestImageSpec}>,
  layout: 'classic' | 'oci-blobs' = 'classic',
): Promise<Buffer> {
  const entries: TestEntry[] = []
  const manifest = images.map(({tag, spec}) => {
    const built = buildTestImage(spec)
    const configHex = sha256(built.config).slice(7)
    const configPath = layout === 'classic' ? `${configHex}.json` : `blobs/sha256/${configHex}`
    entries.push({name: configPath, content: built.config})
    const layers = spec.layers.map((layer) => {
      const hex = sha256(layer.tar).slice(7)
      const layerPath = layout === 'classic' ? `${hex}/layer.tar` : `blobs/sha256/${hex}`
      if (!entries.some((e) => e.name === layerPath)) entries.push({name: layerPath, content: layer.tar})
      return layerPath
    })
    return {Config: configPath, RepoTags: [tag], Layers: layers}
  })
  entries.push({name: 'manifest.json', content: JSON.stringify(manifest)})
  return tarOf(entries)
}

/** An OCI image layout as a tar: oci-layout, index.json (ref names as annotations), blobs/sha256/…. */
export async function ociLayoutTar(images: Array<{ref: string; specs: TestImageSpec[]}>): Promise<Buffer> {
  const blobs = new Map<string, Buffer>()
  const add = (data: Buffer) => {
    blobs.set(sha256(data).slice(7), data)
    return sha256(data)
  }
  const manifests = images.map(({ref, specs}) => {
    const built = specs.map((spec) => buildTestImage(spec, 'oci'))
    for (const [i, image] of built.entries()) {
      add(image.config)
      add(image.manifest)
      for (const layer of specs[i].layers) add(layer.blob)
    }
    if (built.length === 1)
      return {
        mediaType: built[0].mediaType,
        digest: built[0].digest,
        size: built[0].manifest.length,
        annotations: {'org.opencontainers.image.ref.name': ref},
      }
    const index = buildTestIndex(built.map((image, i) => ({image, spec: specs[i]})))
    add(index.manifest)
    return {
      mediaType: 'application/vnd.oci.image.index.v1+json',
      digest: index.digest,
      size: index.manifest.length,
      annotations: {'org.opencontainers.image.ref.name': ref},
    }
  })
  return tarOf([
    {name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}'},
    {
      name: 'index.json',
      content: JSON.stringify({schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests}),
    },
    ...[...blobs].map(([hex, data]) => ({name: `blobs/sha256/${hex}`, content: data})),
  ])
}

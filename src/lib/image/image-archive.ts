// Offline inspection of an image archive: a `docker save` tarball (manifest.json, either layout)
// or an OCI image layout in a tar (index.json, blobs/sha256/…). Two streamed passes over the
// file: the first keeps the small JSON documents, the second reads the wanted layers' headers.
import {createReadStream} from 'node:fs'
import type {Readable} from 'node:stream'

import {unreadableFile} from '../describe-error.js'
import {UserError} from '../errors.js'
import {type ImageConfig, type ImageFacts, imageFacts} from './image-facts.js'
import {DEFAULT_PLATFORM, formatPlatform, parseManifest, type Platform, selectPlatforms} from './image-manifest.js'
import {sha256} from './image-source.js'
import {type LayerEntries, readLayerEntries, UnsupportedLayerError} from './layer-entries.js'

/** Documents (manifests, configs, indexes) are small; anything larger is a layer. */
const MAX_DOCUMENT = 4 * 1024 * 1024

interface ArchiveImage {
  name: string
  digest: string
  platform?: Platform
  config: ImageConfig
  /** Paths of the layer files inside the archive, bottom first, with their sizes. */
  layers: Array<{path: string; size: number}>
}

async function eachEntry(
  file: string,
  onEntry: (name: string, size: number, stream: Readable) => Promise<void>,
): Promise<void> {
  const tar = await import('tar-stream')
  const extract = tar.extract()
  const input = createReadStream(file)
  input.on('error', (error) => extract.destroy(error))
  input.pipe(extract as unknown as NodeJS.WritableStream)
  try {
    for await (const entry of extract) {
      const name = entry.header.name.replace(/^\.\//, '')
      if (entry.header.type === 'file') await onEntry(name, entry.header.size ?? 0, entry as unknown as Readable)
      entry.resume()
    }
  } catch (error) {
    if (error instanceof UserError) throw error
    const code = (error as NodeJS.ErrnoException).code
    throw new UserError(
      code
        ? unreadableFile('--image-archive', `"${file}"`, error)
        : `--image-archive "${file}" is not a tar archive (docker save or an OCI layout)`,
      {cause: error},
    )
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

const blobPath = (digest: string) => `blobs/${digest.replace(':', '/')}`

function json<T>(documents: Map<string, Buffer>, path: string, where: string): T {
  const bytes = documents.get(path)
  if (!bytes) throw new UserError(`${where}: the archive has no ${path}`)
  try {
    return JSON.parse(bytes.toString('utf8')) as T
  } catch {
    throw new UserError(`${where}: ${path} is not JSON`)
  }
}

/** The images an archive holds: docker save's manifest.json first (it names the tags), else the OCI index. */
function imagesOf(
  documents: Map<string, Buffer>,
  sizes: Map<string, number>,
  file: string,
  platforms: Platform[],
): ArchiveImage[] {
  const where = `--image-archive "${file}"`
  const sized = (path: string) => ({path, size: sizes.get(path) ?? 0})
  if (documents.has('manifest.json')) {
    const entries = json<Array<{Config?: string; RepoTags?: string[] | null; Layers?: string[]}>>(
      documents,
      'manifest.json',
      where,
    )
    return entries.map((entry) => {
      if (!entry.Config || !Array.isArray(entry.Layers))
        throw new UserError(`${where}: manifest.json has an entry without Config or Layers`)
      const configBytes = documents.get(entry.Config)
      if (!configBytes) throw new UserError(`${where}: the archive has no ${entry.Config}`)
      return {
        name: entry.RepoTags?.[0] ?? file,
        digest: sha256(configBytes),
        config: json<ImageConfig>(documents, entry.Config, where),
        layers: entry.Layers.map(sized),
      }
    })
  }
  if (!documents.has('index.json'))
    throw new UserError(`${where} has neither manifest.json (docker save) nor index.json (OCI layout)`)
  const index = parseManifest(documents.get('index.json')!.toString('utf8'), where)
  if (index.kind !== 'index') throw new UserError(`${where}: index.json is not an image index`)
  return index.manifests.flatMap((descriptor) => {
    const ref = (descriptor as {annotations?: Record<string, string>}).annotations?.[
      'org.opencontainers.image.ref.name'
    ]
    const name = ref ?? file
    const text = documents.get(blobPath(descriptor.digest))?.toString('utf8')
    if (text === undefined) throw new UserError(`${where}: the archive has no ${blobPath(descriptor.digest)}`)
    const parsed = parseManifest(text, where, descriptor.mediaType)
    const chosen =
      parsed.kind === 'manifest'
        ? [{digest: descriptor.digest, manifest: parsed, platform: undefined}]
        : selectPlatforms(parsed, platforms.length ? platforms : [DEFAULT_PLATFORM]).chosen.map((c) => {
            const child = parseManifest(documents.get(blobPath(c.manifest.digest))?.toString('utf8') ?? '{}', where)
            if (child.kind !== 'manifest') throw new UserError(`${where}: an index points at another index`)
            return {digest: c.manifest.digest, manifest: child, platform: c.platform}
          })
    return chosen.map(({digest, manifest, platform}) => ({
      name,
      digest,
      ...(platform ? {platform} : {}),
      config: json<ImageConfig>(documents, blobPath(manifest.config.digest), where),
      layers: manifest.layers.map((layer) => sized(blobPath(layer.digest))),
    }))
  })
}

/** Inspect every image of an archive (for an OCI index, the wanted platforms, else linux/amd64). */
export async function inspectArchive(file: string, platforms: Platform[] = []): Promise<ImageFacts[]> {
  const documents = new Map<string, Buffer>()
  const sizes = new Map<string, number>()
  await eachEntry(file, async (name, size, stream) => {
    sizes.set(name, size)
    if (size <= MAX_DOCUMENT && (name.endsWith('.json') || name.startsWith('blobs/') || name === 'repositories'))
      documents.set(name, await readAll(stream))
  })
  const images = imagesOf(documents, sizes, file, platforms)
  const wanted = new Set(images.flatMap((image) => image.layers.map((layer) => layer.path)))
  const layers = new Map<string, LayerEntries | string>()
  await eachEntry(file, async (name, _size, stream) => {
    if (!wanted.has(name) || layers.has(name)) return
    try {
      layers.set(name, await readLayerEntries(stream, name))
    } catch (error) {
      if (!(error instanceof UnsupportedLayerError)) throw error
      layers.set(name, error.message)
    }
  })
  return images.map((image) => {
    const read = image.layers.map(
      (layer) => layers.get(layer.path) ?? `layer ${layer.path} is missing from the archive`,
    )
    return imageFacts(
      {
        image: image.name,
        digest: image.digest,
        ...(image.platform ? {platform: formatPlatform(image.platform)} : {}),
        compressedSize: image.layers.reduce((sum, layer) => sum + layer.size, 0),
        layers: image.layers.length,
        unreadLayers: read.filter((r): r is string => typeof r === 'string'),
      },
      image.config,
      read.filter((r): r is LayerEntries => typeof r !== 'string'),
    )
  })
}

// Inspect one image: manifest (an index resolved to the wanted platforms), config blob, and each
// layer streamed once (its entries shared by every image that has it) → facts per platform.
import type {Readable} from 'node:stream'

import {UserError} from '../errors.js'
import {type ImageConfig, type ImageFacts, imageFacts} from './image-facts.js'
import {
  DEFAULT_PLATFORM,
  type Descriptor,
  formatPlatform,
  type ImageManifest,
  parseManifest,
  type Platform,
  selectPlatforms,
} from './image-manifest.js'
import type {ImageSource} from './image-source.js'
import {type LayerEntries, readLayerEntries, UnsupportedLayerError} from './layer-entries.js'

/** Layer entries by layer digest: in memory for one run, on disk across runs (blob-cache.ts). */
export interface LayerStore {
  get(digest: string): Promise<LayerEntries | undefined>
  /** Keep the entries; false when they could not be kept (an unwritable disk cache). */
  set(digest: string, entries: LayerEntries): Promise<boolean>
}

export interface InspectOptions {
  /** For an index: the platforms to read (default linux/amd64). */
  platforms?: Platform[]
  /** Where layer results are kept; each digest is read at most once per store. */
  layers?: LayerStore
  /** Bounds the layer reads in flight across every image of a run (limitConcurrency); unbounded without. */
  limitLayerReads?: <T>(task: () => Promise<T>) => Promise<T>
  /** Called as each layer is read from the source (for a progress line and the byte count). */
  onLayerRead?: (digest: string, size: number) => void
  /** Read the config only (user, created): the file facts stay empty. */
  configOnly?: boolean
}

const MAX_CONFIG_BYTES = 8 * 1024 * 1024

async function readAll(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) {
      stream.destroy()
      throw new UserError(`${what} is over ${limit / 1024 / 1024} MiB`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/**
 * Layer results shared by every image of a run: reads in flight are shared (concurrent images
 * wait for one read). With a backing store (the disk cache) results are kept there only, so a
 * run over hundreds of images holds the paths of the images being merged, not of every layer seen;
 * without one they stay in memory for the run.
 */
export function memoryLayerStore(backing?: LayerStore): LayerStore & {reads: Map<string, Promise<LayerEntries>>} {
  const values = new Map<string, LayerEntries>()
  return {
    reads: new Map(),
    async get(digest) {
      return values.get(digest) ?? (await backing?.get(digest))
    },
    async set(digest, entries) {
      // A cache that could not keep it (unwritable disk) must not make us read the layer again.
      if (backing && (await backing.set(digest, entries))) return true
      values.set(digest, entries)
      return true
    },
  }
}

const defaultStore = () => memoryLayerStore()

async function layerEntries(
  source: ImageSource,
  layer: Descriptor,
  store: ReturnType<typeof memoryLayerStore> | LayerStore,
  options: InspectOptions,
): Promise<LayerEntries> {
  const cached = await store.get(layer.digest)
  if (cached) return cached
  const reads = 'reads' in store ? store.reads : undefined
  const pending = reads?.get(layer.digest)
  if (pending) return pending
  const readLayer = async () => {
    const entries = await readLayerEntries(await source.blob(layer.digest), layer.digest)
    options.onLayerRead?.(layer.digest, layer.size)
    await store.set(layer.digest, entries)
    return entries
  }
  const read = options.limitLayerReads ? options.limitLayerReads(readLayer) : readLayer()
  reads?.set(layer.digest, read)
  try {
    return await read
  } finally {
    reads?.delete(layer.digest)
  }
}

async function inspectManifest(
  source: ImageSource,
  image: string,
  manifest: ImageManifest,
  identity: {digest: string; platform?: Platform},
  options: InspectOptions & {store: LayerStore},
): Promise<ImageFacts> {
  const configBytes = await readAll(await source.blob(manifest.config.digest), MAX_CONFIG_BYTES, `${image}: the config`)
  let config: ImageConfig
  try {
    config = JSON.parse(configBytes.toString('utf8')) as ImageConfig
  } catch {
    throw new UserError(`${image}: the image config is not JSON`)
  }
  // Read side by side; merged in manifest order (a later layer's whiteouts apply to the earlier ones).
  const results = await Promise.all(
    (options.configOnly ? [] : manifest.layers).map((layer) =>
      layerEntries(source, layer, options.store, options).catch((error: unknown) => {
        if (error instanceof UnsupportedLayerError) return error.message
        throw error
      }),
    ),
  )
  const layers = results.filter((result): result is LayerEntries => typeof result !== 'string')
  const unreadLayers = results.filter((result): result is string => typeof result === 'string')
  return imageFacts(
    {
      image,
      digest: identity.digest,
      ...(identity.platform ? {platform: formatPlatform(identity.platform)} : {}),
      compressedSize: manifest.layers.reduce((sum, layer) => sum + layer.size, 0),
      layers: manifest.layers.length,
      unreadLayers,
    },
    config,
    layers,
  )
}

/**
 * The facts of an image: one per wanted platform for an index (a platform it lacks is an error
 * only when it offers none of them), one for a single manifest.
 */
export async function inspectImage(
  source: ImageSource,
  image: string,
  options: InspectOptions = {},
): Promise<ImageFacts[]> {
  const store = options.layers ?? defaultStore()
  const top = await source.manifest()
  const parsed = parseManifest(top.text, image, top.contentType)
  if (parsed.kind === 'manifest') return [await inspectManifest(source, image, parsed, top, {...options, store})]
  const wanted = options.platforms?.length ? options.platforms : [DEFAULT_PLATFORM]
  const {chosen} = selectPlatforms(parsed, wanted)
  if (chosen.length === 0) {
    const offered = parsed.manifests.flatMap((m) => (m.platform ? [formatPlatform(m.platform)] : []))
    throw new UserError(
      `${image}: the index has no image for ${wanted.map(formatPlatform).join(', ')} (it offers ${offered.join(', ') || 'none'}); choose one with --platform`,
    )
  }
  return Promise.all(
    chosen.map(async ({platform, manifest}) => {
      const child = await source.manifest(manifest.digest)
      if (child.digest !== manifest.digest)
        throw new UserError(
          `${image}: the manifest for ${formatPlatform(platform)} does not match its digest ${manifest.digest}`,
        )
      const parsedChild = parseManifest(child.text, `${image} (${formatPlatform(platform)})`, child.contentType)
      if (parsedChild.kind !== 'manifest') throw new UserError(`${image}: an index points at another index`)
      return inspectManifest(source, image, parsedChild, {digest: child.digest, platform}, {...options, store})
    }),
  )
}

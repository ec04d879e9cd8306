// `--inspect`: read each distinct image of the audit once (manifest, config, layers streamed)
// with the credentials the audit knows, at most four at a time, layers shared by digest.
import type {AuditInput} from './audit.js'
import type {ApiReader} from '../cluster/api-reader.js'
import {limitConcurrency} from '../concurrency.js'
import {safeErrorMessage} from '../describe-error.js'
import {credentialForImage, type DockerCredential, dockerConfigFileCredentials} from '../image/docker-config.js'
import type {ImageFacts} from '../image/image-facts.js'
import {type ImageReference, normalizeImageReference, parseImageReference} from '../image/image-reference.js'
import type {Platform} from '../image/image-manifest.js'
import type {LayerStore} from '../image/inspect-image.js'
import type {RegistryConnection} from '../image/registry-client.js'

export interface InspectImagesOptions extends RegistryConnection {
  /** Credentials from `--docker-config`, tried after the pod's own. */
  fileCredentials?: DockerCredential[]
  /** For indexes: `--platform`, else the cluster nodes' platforms, else linux/amd64. */
  platforms?: Platform[]
  /** Where layer results outlive the run (the disk cache); memory only without. */
  layers?: LayerStore
  /** How many images are read at once (default 4). */
  concurrency?: number
  /** Called after each image: images done, images in all, compressed bytes read. */
  progress?: (done: number, total: number, bytes: number) => void
}

export interface InspectedRun {
  /** By image as written in the workloads. */
  facts: Map<string, ImageFacts[]>
  /** Compressed layer bytes read from registries (not from the cache). */
  bytesRead: number
  layersRead: number
}

/** Each distinct image (by normalised reference) with the images as written and the credentials to read it. */
function distinctImages(input: AuditInput, fileCredentials: DockerCredential[]) {
  const byName = new Map<string, {reference: ImageReference; written: Set<string>; credentials: DockerCredential[]}>()
  for (const unit of input.workloads) {
    for (const target of unit.targets) {
      let reference: ImageReference
      try {
        reference = parseImageReference(target.image)
      } catch {
        continue // image-reference-invalid says why
      }
      const key = normalizeImageReference(reference)
      const entry = byName.get(key) ?? {reference, written: new Set(), credentials: []}
      entry.written.add(target.image)
      const own = credentialForImage(unit.credentials ?? [], reference)
      if (own && !entry.credentials.includes(own)) entry.credentials.push(own)
      byName.set(key, entry)
    }
  }
  for (const entry of byName.values()) {
    const fromFile = credentialForImage(fileCredentials, entry.reference)
    if (fromFile) entry.credentials.push(fromFile)
  }
  return [...byName.values()]
}

/**
 * Inspect every distinct image of the input. An image that cannot be read is a notice (the
 * others go on); a refused credential is followed by the next one that matches.
 */
export async function inspectAuditImages(
  input: AuditInput,
  options: InspectImagesOptions,
  notices: string[],
): Promise<InspectedRun> {
  const {inspectImage, memoryLayerStore} = await import('../image/inspect-image.js')
  const {registrySource} = await import('../image/image-source.js')
  const images = distinctImages(input, options.fileCredentials ?? [])
  const store = memoryLayerStore(options.layers)
  const run: InspectedRun = {facts: new Map(), bytesRead: 0, layersRead: 0}
  const limit = limitConcurrency(options.concurrency ?? 4)
  // Layers are read side by side within an image too: at most eight streams at once in all.
  const limitLayerReads = limitConcurrency(8)
  let done = 0
  const onLayerRead = (_digest: string, size: number) => {
    run.bytesRead += size
    run.layersRead++
  }
  await Promise.all(
    images.map(({reference, written, credentials}) =>
      limit(async () => {
        const name = normalizeImageReference(reference)
        const attempts = credentials.length > 0 ? credentials : [undefined]
        let lastError: unknown
        for (const credential of attempts) {
          try {
            // eslint-disable-next-line no-await-in-loop -- the next credential only when this one was refused
            const facts = await inspectImage(registrySource(reference, options, credential), name, {
              platforms: options.platforms,
              layers: store,
              limitLayerReads,
              onLayerRead,
            })
            for (const image of written)
              run.facts.set(
                image,
                facts.map((f) => ({...f, image})),
              )
            for (const f of facts)
              for (const unread of f.unreadLayers)
                notices.push(`--inspect ${name}: ${unread}; the file checks saw the other layers`)
            lastError = undefined
            break
          } catch (error) {
            lastError = error
            if (!/refused/.test(safeErrorMessage(error))) break
          }
        }
        if (lastError) notices.push(`--inspect: ${safeErrorMessage(lastError)}`)
        options.progress?.(++done, images.length, run.bytesRead)
      }),
    ),
  )
  return run
}

/** What `audit images --inspect` is given (the command's flags). */
export interface AuditInspectOptions extends Omit<InspectImagesOptions, 'fileCredentials' | 'layers'> {
  /** `--docker-config`: credentials tried after the pods' own. */
  dockerConfig?: string
  /** Where layer results are cached across runs (default under ~/.cache); false: `--no-cache`. */
  cacheDir?: string | false
}

/**
 * `--inspect` for a run: read the images (for an index, `--platform`, else the nodes' platforms
 * in a cluster, else linux/amd64), hand the facts to every workload's checks, and return one
 * entry per image and platform for the report.
 */
export async function inspectForAudit(
  input: AuditInput,
  options: AuditInspectOptions,
  client: ApiReader | undefined,
  notices: string[],
): Promise<ImageFacts[]> {
  const {dockerConfig, cacheDir, ...inspect} = options
  const fileCredentials = dockerConfig ? dockerConfigFileCredentials(dockerConfig) : []
  const {defaultLayerCacheDir, diskLayerStore} = await import('../image/layer-cache.js')
  const layers = cacheDir === false ? undefined : diskLayerStore(cacheDir ?? defaultLayerCacheDir())
  let platforms = inspect.platforms
  if (!platforms?.length && client) {
    const {clusterNodePlatforms} = await import('../cluster/node-platforms.js')
    const nodes = await clusterNodePlatforms(client)
    if (nodes.problem)
      notices.push(
        `--inspect: ${nodes.problem}; multi-platform images are read for linux/amd64 (choose with --platform)`,
      )
    platforms = nodes.platforms
  }
  const inspected = await inspectAuditImages(input, {...inspect, platforms, fileCredentials, layers}, notices)
  const now = Date.now()
  for (const unit of input.workloads) unit.context.inspected = {facts: inspected.facts, now}
  const seen = new Set<string>()
  return [...inspected.facts.values()].flat().filter((f) => {
    const key = `${f.digest} ${f.image}`
    return !seen.has(key) && Boolean(seen.add(key))
  })
}

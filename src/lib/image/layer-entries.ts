// One layer, streamed: decompressed on the fly, tar headers read, file contents skipped. The
// result (paths, whiteouts, special modes) is small and keyed by the layer's digest, so each
// layer is read once however many images share it.
import {Readable} from 'node:stream'
import zlib from 'node:zlib'

import {describeFailure} from '../describe-error.js'
import {UserError} from '../errors.js'

export interface LayerEntries {
  /** Paths of everything but directories, normalised (`usr/bin/curl`), in tar order. */
  files: string[]
  /** Modes of setuid/setgid regular files (`path` → mode). */
  special: Record<string, number>
  /** Paths a whiteout (`.wh.NAME`) deletes from the layers below. */
  whiteouts: string[]
  /** Directories an opaque whiteout (`.wh..wh..opq`) empties of the layers below. */
  opaque: string[]
}

/** A layer this build cannot read; the inspection goes on without it and says so. */
export class UnsupportedLayerError extends UserError {}

type Compression = 'gzip' | 'zstd' | 'none'

function compressionOf(head: Buffer): Compression | 'unknown' {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip'
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd'
  // An uncompressed tar has "ustar" at offset 257 (or is empty).
  if (head.length < 262 || head.subarray(257, 262).toString('latin1') === 'ustar') return 'none'
  return 'unknown'
}

function decompressor(compression: Compression, digest: string) {
  if (compression === 'gzip') return zlib.createGunzip()
  if (compression === 'zstd') {
    const create = (zlib as unknown as {createZstdDecompress?: () => NodeJS.ReadWriteStream}).createZstdDecompress
    if (!create)
      throw new UnsupportedLayerError(
        `layer ${digest} is zstd-compressed, which needs Node.js 22.15 or later (this is ${process.version}); only gzip and uncompressed layers are read here`,
      )
    return create()
  }
  return undefined
}

/** `./usr/bin/` → `usr/bin`: how tar names and whiteouts compare. */
export function normalizeTarPath(name: string): string {
  return name
    .replace(/^(\.\/|\/)+/, '')
    .replace(/\/+$/, '')
    .replace(/\/\.\//g, '/')
}

/** Read a layer blob (gzip, zstd where Node has it, or plain tar) into its entries. */
export async function readLayerEntries(blob: Readable, digest: string): Promise<LayerEntries> {
  const iterator = blob[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  // Enough bytes to see the tar magic of an uncompressed layer.
  const chunks: Buffer[] = []
  let size = 0
  let ended = false
  while (size < 512 && !ended) {
    // eslint-disable-next-line no-await-in-loop -- a stream is read in order
    const next = await iterator.next()
    if (next.done) ended = true
    else {
      chunks.push(next.value)
      size += next.value.length
    }
  }
  const head = Buffer.concat(chunks)
  const entries: LayerEntries = {files: [], special: {}, whiteouts: [], opaque: []}
  if (head.length === 0) return entries
  const compression = compressionOf(head)
  if (compression === 'unknown') {
    blob.destroy()
    throw new UnsupportedLayerError(`layer ${digest} is neither gzip, zstd nor a tar archive`)
  }
  let decompress: NodeJS.ReadWriteStream | undefined
  try {
    decompress = decompressor(compression, digest)
  } catch (error) {
    blob.destroy()
    throw error
  }
  const rest = Readable.from(
    (async function* () {
      yield head
      if (ended) return
      for (;;) {
        // eslint-disable-next-line no-await-in-loop -- a stream is read in order
        const next = await iterator.next()
        if (next.done) return
        yield next.value
      }
    })(),
  )
  const tar = await import('tar-stream')
  const extract = tar.extract()
  const source = decompress ? rest.pipe(decompress) : rest
  rest.on('error', (error) => extract.destroy(error))
  if (decompress) decompress.on('error', (error: Error) => extract.destroy(error))
  source.pipe(extract as unknown as NodeJS.WritableStream)
  try {
    for await (const entry of extract) {
      record(entries, entry.header)
      entry.resume()
    }
  } catch (error) {
    if (error instanceof UserError) throw error
    throw new UserError(`layer ${digest} could not be read: ${describeFailure(error)}`, {cause: error})
  }
  return entries
}

function record(entries: LayerEntries, header: {name: string; type: string | null; mode: number | null}): void {
  const path = normalizeTarPath(header.name)
  const slash = path.lastIndexOf('/')
  const base = path.slice(slash + 1)
  const dir = slash < 0 ? '' : path.slice(0, slash)
  if (base === '.wh..wh..opq') {
    entries.opaque.push(dir)
    return
  }
  if (base.startsWith('.wh.')) {
    entries.whiteouts.push(dir ? `${dir}/${base.slice(4)}` : base.slice(4))
    return
  }
  if (header.type === 'directory' || path === '') return
  entries.files.push(path)
  const mode = header.mode ?? 0
  if ((header.type === 'file' || header.type === 'contiguous-file') && (mode & 0o6000) !== 0)
    entries.special[path] = mode
}

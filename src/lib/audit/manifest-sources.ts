import {closeSync, constants, fstatSync, openSync, readdirSync, readSync, type Stats, statSync} from 'node:fs'
import path from 'node:path'

import {describeSystemError} from '../describe-error.js'
import {UserError} from '../errors.js'

/**
 * Where manifests come from: files, directories and stdin, read with limits so that no input can
 * hang the run (a FIFO, a device) or exhaust memory (a symlink to /dev/zero, a huge file).
 */

export interface ManifestReadError {
  file: string
  line?: number
  message: string
}

/** Default per-file (and stdin) size limit: far above any real manifest bundle. */
export const DEFAULT_MAX_FILE_SIZE = 32 * 1024 * 1024

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json'])

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  k: 1000,
  m: 1000 ** 2,
  g: 1000 ** 3,
  ki: 1024,
  mi: 1024 ** 2,
  gi: 1024 ** 3,
}

/** `--max-file-size`: bytes, or a Kubernetes-style quantity (`512Ki`, `32Mi`, `1Gi`, `10M`; `MiB` is accepted too). */
export function parseByteSize(text: string, flag = '--max-file-size'): number {
  const match = /^\s*(\d+)\s*([kmg]i?)?b?\s*$/i.exec(text)
  const bytes = match ? Number(match[1]) * SIZE_UNITS[(match[2] ?? '').toLowerCase()] : Number.NaN
  if (!Number.isSafeInteger(bytes) || bytes <= 0)
    throw new UserError(`${flag}: "${text}" is not a size; use bytes or a quantity such as 512Ki, 32Mi or 1Gi`)
  return bytes
}

/** `32 MiB`, `100 KiB`, `17 bytes`, for messages. */
export function describeByteSize(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`
  }
  return `${bytes} bytes`
}

function fileTypeOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO (named pipe)'
  if (stats.isCharacterDevice()) return 'a character device'
  if (stats.isBlockDevice()) return 'a block device'
  if (stats.isSocket()) return 'a socket'
  if (stats.isDirectory()) return 'a directory'
  return 'not a regular file'
}

const notRegular = (stats: Stats) => `is ${fileTypeOf(stats)}, not a regular file; skipped`

/**
 * Files under each argument: a file, a directory (recursive, .yaml/.yml/.json, sorted), or `-`
 * for stdin. A subdirectory that cannot be listed is reported by its own path and the walk goes
 * on; non-regular files given by name are reported here, those found in a directory (or behind a
 * symlink) when they are read.
 */
export function manifestFiles(inputs: string[]): {files: string[]; errors: ManifestReadError[]} {
  const files: string[] = []
  const errors: ManifestReadError[] = []
  const walk = (dir: string) => {
    let entries
    try {
      entries = readdirSync(dir, {withFileTypes: true}).sort((a, b) => (a.name < b.name ? -1 : 1))
    } catch (error) {
      errors.push({
        file: dir,
        message: `directory cannot be read: ${describeSystemError(error)}; its files were not audited`,
      })
      return
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) {
        walk(full)
      } else if (MANIFEST_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) {
        files.push(full)
      }
    }
  }
  for (const input of inputs) {
    if (input === '-') {
      files.push('-')
      continue
    }
    let stats: Stats
    try {
      stats = statSync(input)
    } catch (error) {
      errors.push({file: input, message: `cannot be read: ${describeSystemError(error)}`})
      continue
    }
    if (stats.isDirectory()) walk(input)
    else if (stats.isFile()) files.push(input)
    else errors.push({file: input, message: notRegular(stats)})
  }
  return {files, errors}
}

// Reads a whole file descriptor, refusing more than `limit` bytes. A non-blocking descriptor with
// nothing to read yet (stdin from a slow pipe) is waited on briefly, never spun on.
function readLimited(fd: number, limit: number): string {
  const chunks: Buffer[] = []
  let total = 0
  const buffer = Buffer.alloc(1024 * 1024)
  for (;;) {
    let count: number
    try {
      count = readSync(fd, buffer, 0, buffer.length, null)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)
        continue
      }
      throw error
    }
    if (count === 0) break
    total += count
    if (total > limit)
      throw new UserError(
        `is larger than the limit of ${describeByteSize(limit)}; not audited (raise it with --max-file-size)`,
      )
    chunks.push(Buffer.from(buffer.subarray(0, count)))
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The text of one manifest file: regular files only (checked on the open descriptor, which is
 * opened non-blocking so that a FIFO cannot block), at most `limit` bytes.
 */
export function readManifestFile(file: string, limit: number): string {
  const before = statSync(file)
  if (!before.isFile()) throw new UserError(notRegular(before))
  if (before.size > limit)
    throw new UserError(
      `is larger than the limit of ${describeByteSize(limit)}; not audited (raise it with --max-file-size)`,
    )
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    // The path may have been swapped between stat and open.
    const stats = fstatSync(fd)
    if (!stats.isFile()) throw new UserError(notRegular(stats))
    return readLimited(fd, limit)
  } finally {
    closeSync(fd)
  }
}

/** Standard input, with the same size limit as a file. */
export function readManifestStdin(limit: number, fd = 0): string {
  return readLimited(fd, limit)
}

/** Read errors as one line without the path (the caller names the file). */
export function describeReadError(error: unknown): string {
  if (error instanceof UserError) return error.message
  return `cannot be read: ${describeSystemError(error)}`
}

import {randomBytes} from 'node:crypto'
import {
  chmodSync,
  chownSync,
  closeSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import path from 'node:path'

import {crashPoint} from './test-hooks.js'

/**
 * Replace `file` with `content` atomically: write a temporary dot-file in the same directory
 * (rename is atomic only within one filesystem, and the kubelet skips dot-files in its manifest
 * directory), fsync it, rename it over the target, fsync the directory. The original's mode and
 * owner are kept; the temporary file is removed on every failure path.
 */
export function writeFileAtomic(file: string, content: string | Buffer, options: {mode?: number} = {}): void {
  const dir = path.dirname(path.resolve(file))
  const tempPrefix = `.${path.basename(file)}.imgsec-`
  // A temporary file left by a killed run (the kubelet ignores it, being a dot-file) is cleaned up now.
  for (const stale of readdirSync(dir).filter((name) => name.startsWith(tempPrefix) && name.endsWith('.tmp'))) {
    try {
      unlinkSync(path.join(dir, stale))
    } catch {}
  }
  const temp = path.join(dir, `${tempPrefix}${randomBytes(6).toString('hex')}.tmp`)
  let existing: {mode: number; uid: number; gid: number} | undefined
  try {
    const stat = statSync(file)
    existing = {mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid}
  } catch {}
  const mode = options.mode ?? existing?.mode ?? 0o644
  let fd: number | undefined
  try {
    fd = openSync(temp, 'wx', mode)
    crashPoint('atomic-write:opened')
    const buffer = typeof content === 'string' ? Buffer.from(content, 'utf8') : content
    let offset = 0
    const half = Math.floor(buffer.length / 2)
    offset += writeSync(fd, buffer, 0, half)
    crashPoint('atomic-write:half-written')
    while (offset < buffer.length) offset += writeSync(fd, buffer, offset, buffer.length - offset)
    fsyncSync(fd)
    crashPoint('atomic-write:synced')
    closeSync(fd)
    fd = undefined
    // openSync's mode is filtered by the umask; set it exactly.
    chmodSync(temp, mode)
    if (existing && process.getuid?.() === 0) chownSync(temp, existing.uid, existing.gid)
    crashPoint('atomic-write:before-rename')
    renameSync(temp, file)
    crashPoint('atomic-write:renamed')
  } catch (error) {
    if (fd !== undefined) closeSync(fd)
    try {
      unlinkSync(temp)
    } catch {}
    throw error
  }
  const dirFd = openSync(dir, 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
}

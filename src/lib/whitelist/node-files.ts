// Writing the whitelist's files on the control-plane node: exact modes, the backend's owner when
// run as root, only when the content changes, and every write journaled so a failed run is undone.
import {createHash} from 'node:crypto'
import {chmodSync, chownSync, existsSync, mkdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {writeFileAtomic} from '../atomic-write.js'
import type {UndoJournal} from '../controlplane/undo-journal.js'
import {UserError} from '../errors.js'

export const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex')

export function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

/** Write a file only when its content changes (atomic, exact mode); returns whether it did. */
export function writeIfChanged(
  file: string,
  content: string,
  mode: number,
  changes: string[],
  owner?: number,
  journal?: UndoJournal,
): boolean {
  const current = readIfExists(file)
  if (current === content) return false
  journal?.rememberDir(path.dirname(file))
  journal?.rememberFile(file)
  mkdirSync(path.dirname(file), {recursive: true, mode: 0o700})
  writeFileAtomic(file, content, {mode})
  chmodSync(file, mode)
  if (owner !== undefined && process.getuid?.() === 0) chownSync(file, owner, owner)
  changes.push(`${current === undefined ? 'wrote' : 'updated'} ${file}`)
  return true
}

export function ensureDir(dir: string, owner?: number, journal?: UndoJournal): void {
  journal?.rememberDir(dir)
  mkdirSync(dir, {recursive: true, mode: 0o700})
  chmodSync(dir, 0o700)
  if (owner !== undefined && process.getuid?.() === 0) chownSync(dir, owner, owner)
}

/** The bundled backend (dist/imgsec-webhook.mjs) the static pod and the Deployment run. */
export function readBackendBundle(): string {
  // From dist/lib/whitelist/node-files.js it is dist/imgsec-webhook.mjs; in the release bundle it sits beside it.
  const here = path.dirname(fileURLToPath(import.meta.url))
  const candidates = [path.resolve(here, '..', '..', 'imgsec-webhook.mjs'), path.join(here, 'imgsec-webhook.mjs')]
  const found = candidates.find((file) => existsSync(file))
  if (!found)
    throw new UserError(
      `the backend bundle imgsec-webhook.mjs is missing (looked in ${candidates.join(', ')}); reinstall kubectl-imgsec`,
    )
  return readFileSync(found, 'utf8')
}

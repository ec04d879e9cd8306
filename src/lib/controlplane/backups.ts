import {createHash} from 'node:crypto'
import {appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import {UserError} from '../errors.js'

export interface BackupRecord {
  /** The file that was backed up (absolute). */
  file: string
  /** The copy (absolute). */
  backup: string
  time: string
  sha256: string
  command: string
  /**
   * Why the copy was made when it was not a change of the command's own: `restore` marks the copy
   * of the file a restore replaced. Such copies are never "the newest backup" of a bare --restore,
   * so that restoring twice puts back the same backup, not the file the first restore replaced.
   */
  reason?: 'restore'
}

export const BACKUP_INDEX = 'index.jsonl'

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

/**
 * Copy `file` into `backupDir` (0700) as a timestamped 0600 file and record it in the index
 * (file, time, sha256, command). Backups of the same content are kept once per call, never
 * overwritten: the name carries the time and a counter.
 */
export function backupFile(
  file: string,
  backupDir: string,
  command: string,
  options: {now?: Date; reason?: BackupRecord['reason']} = {},
): BackupRecord {
  const now = options.now ?? new Date()
  const source = path.resolve(file)
  const dir = path.resolve(backupDir)
  if (dir === path.dirname(source)) {
    throw new UserError(`backup directory ${dir} is the directory of ${source}; choose another one with --backup-dir`)
  }
  mkdirSync(dir, {recursive: true, mode: 0o700})
  chmodSync(dir, 0o700)
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  let backup = path.join(dir, `${path.basename(source)}.${stamp}`)
  for (let n = 1; existsSync(backup); n++) backup = path.join(dir, `${path.basename(source)}.${stamp}.${n}`)
  copyFileSync(source, backup)
  chmodSync(backup, 0o600)
  const record: BackupRecord = {
    file: source,
    backup,
    time: now.toISOString(),
    sha256: sha256File(backup),
    command,
    ...(options.reason ? {reason: options.reason} : {}),
  }
  appendFileSync(path.join(dir, BACKUP_INDEX), JSON.stringify(record) + '\n', {mode: 0o600})
  return record
}

/** Every backup recorded in `backupDir`, oldest first. */
export function listBackups(backupDir: string): BackupRecord[] {
  const index = path.join(path.resolve(backupDir), BACKUP_INDEX)
  if (!existsSync(index)) return []
  return readFileSync(index, 'utf8')
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as BackupRecord]
      } catch {
        return []
      }
    })
}

/**
 * Was this copy made by a restore (of the file the restore replaced)? Indexes written before
 * `reason` existed are recognised by the command that made the copy.
 */
export function madeByRestore(record: BackupRecord): boolean {
  return record.reason === 'restore' || /\s--restore(?:[\s=]|$)|\(automatic rollback\)/.test(record.command ?? '')
}

/** Is the backup still the bytes that were saved? */
export function backupIntact(record: BackupRecord): boolean {
  try {
    return statSync(record.backup).isFile() && sha256File(record.backup) === record.sha256
  } catch {
    return false
  }
}

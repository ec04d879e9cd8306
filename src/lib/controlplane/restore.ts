// Restoring a backup of a control-plane file: the newest (never one a restore made) or a named one,
// checked against its recorded sha256, written atomically after backing up what it replaces.
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {writeFileAtomic} from '../atomic-write.js'
import {UserError} from '../errors.js'
import {backupFile, backupIntact, type BackupRecord, listBackups, madeByRestore} from './backups.js'
import {checkBackupDir} from './patch-apiserver.js'

/** Backups of one file, newest last. */
export function backupsOf(file: string, backupDir: string): BackupRecord[] {
  const target = path.resolve(file)
  return listBackups(backupDir).filter((record) => record.file === target)
}

/**
 * Put a backup back byte for byte: the newest of `file`, or the one named (its path or file
 * name). The current file is backed up first, so a restore can itself be undone; that copy is
 * marked as made by a restore and is never "the newest" of a later bare restore, so running
 * `--restore` twice restores the same backup (and the second run writes nothing).
 */
export function restoreBackup(
  file: string,
  backupDir: string,
  command: string,
  name?: string,
): {restored: BackupRecord; backup?: BackupRecord; unchanged: boolean} {
  checkBackupDir(file, backupDir)
  const records = backupsOf(file, backupDir)
  if (records.length === 0) throw new UserError(`no backups of ${path.resolve(file)} in ${path.resolve(backupDir)}`)
  let record: BackupRecord | undefined
  if (name === undefined) {
    record = records.findLast((r) => !madeByRestore(r))
    if (!record)
      throw new UserError(
        `every backup of ${path.resolve(file)} in ${path.resolve(backupDir)} was made by a restore; name the one to put back with --restore=NAME (see --list-backups)`,
      )
  } else {
    record = records.findLast((r) => r.backup === path.resolve(name) || path.basename(r.backup) === name)
    if (!record)
      throw new UserError(
        `no backup "${name}" of ${path.resolve(file)} in ${path.resolve(backupDir)}; see --list-backups`,
      )
  }
  if (!backupIntact(record))
    throw new UserError(`backup ${record.backup} is missing or no longer matches its recorded sha256; not restoring it`)
  const content = readFileSync(record.backup)
  let current: Buffer | undefined
  try {
    current = readFileSync(file)
  } catch {}
  if (current && current.equals(content)) return {restored: record, unchanged: true}
  const backup = current ? backupFile(file, backupDir, command, {reason: 'restore'}) : undefined
  // A file restored where none is left gets the backup's 0600, kubeadm's mode for manifests.
  writeFileAtomic(file, content, current ? {} : {mode: 0o600})
  return {restored: record, backup, unchanged: false}
}

// `whitelist disable` without state.json: what an enable that never finished may have left (an
// older version without the undo journal, a killed process). Removed only while the API server's
// manifest does not use it: a file the API server reads must stay until the manifest is restored.
import {existsSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'

import {backupFile, type BackupRecord} from '../controlplane/backups.js'
import {UserError} from '../errors.js'
import {enableWrittenPaths, STATIC_POD_FILE, whitelistPaths} from './files.js'

export interface LeftoverCleanup {
  changes: string[]
  backups: BackupRecord[]
}

export function removeLeftovers(options: {
  configDir: string
  manifestsDir: string
  backupDir: string
  command: string
}): LeftoverCleanup {
  const paths = whitelistPaths(options.configDir)
  const manifest = path.join(path.resolve(options.manifestsDir), 'kube-apiserver.yaml')
  const staticPod = path.join(path.resolve(options.manifestsDir), STATIC_POD_FILE)
  const ours = enableWrittenPaths(paths, {backend: true}).filter((file) => existsSync(file))
  const found = [...(existsSync(staticPod) ? [staticPod] : []), ...ours]
  if (found.length === 0) {
    throw new UserError(
      `the registry whitelist was not enabled by kubectl-imgsec with --config-dir ${paths.configDir} (no ${paths.state}), and nothing of an unfinished enable is left there or in ${options.manifestsDir}`,
    )
  }
  const manifestText = existsSync(manifest) ? readFileSync(manifest, 'utf8') : ''
  if (manifestText.includes(paths.configDir)) {
    throw new UserError(
      `${manifest} still names ${paths.configDir} (an enable that stopped half-way): restore it first with "kubectl imgsec patch-apiserver --restore", then run "whitelist disable" again to remove the rest`,
    )
  }
  const changes: string[] = []
  const backups: BackupRecord[] = []
  if (existsSync(staticPod)) {
    backups.push(backupFile(staticPod, options.backupDir, options.command))
    rmSync(staticPod)
    changes.push(`removed static pod ${staticPod} left by an unfinished enable (the kubelet stops the backend)`)
  }
  for (const file of ours) {
    rmSync(file, {recursive: true, force: true})
    changes.push(`removed ${file} left by an unfinished enable`)
  }
  if (existsSync(paths.configDir) && readdirSync(paths.configDir).length === 0)
    rmSync(paths.configDir, {recursive: true})
  return {changes, backups}
}

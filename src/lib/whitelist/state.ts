import type {BackupRecord} from '../controlplane/backups.js'
import {UserError} from '../errors.js'
import {whitelistPaths} from './files.js'
import {readIfExists} from './node-files.js'

export type PlacementName = 'static' | 'deployment' | 'external'

/** What enable changed, so that disable removes exactly that (state.json in --config-dir). */
export interface WhitelistState {
  version: 1
  placement: PlacementName
  /** Deployment placement: the objects to delete on disable. */
  objects?: Array<{apiVersion: string; kind: string; metadata: {name: string; namespace?: string}}>
  port: number
  manifest: string
  staticPod?: string
  webhookUrl: string
  enabledPlugin: boolean
  setConfigFlag: boolean
  addedVolumes: string[]
  mergedConfig?: {file: string; sha256: string; backup: string}
  /** Where the backend reads its registry credentials (--docker-config): a file on this node or a Secret. */
  registryCredentials?: string
  /** enable recorded its flags in kubeadm-config: disable takes them out again. */
  kubeadmConfig?: boolean
}

export interface WhitelistResult {
  changes: string[]
  warnings: string[]
  backups: BackupRecord[]
}

export function readState(configDir: string): WhitelistState | undefined {
  const text = readIfExists(whitelistPaths(configDir).state)
  if (text === undefined) return undefined
  try {
    return JSON.parse(text) as WhitelistState
  } catch {
    throw new UserError(
      `${whitelistPaths(configDir).state} is not valid JSON; restore the manifest with "kubectl imgsec patch-apiserver --restore" and remove the file`,
    )
  }
}

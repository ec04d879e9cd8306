// `whitelist disable`: undo exactly what enable recorded in state.json; the backups stay.
import {existsSync, readFileSync, rmSync} from 'node:fs'

import {type ClusterAccess, requireClient} from '../cluster/connection.js'
import {writeFileAtomic} from '../atomic-write.js'
import {backupFile, type BackupRecord} from '../controlplane/backups.js'
import {persistToKubeadmConfig} from '../controlplane/kubeadm-config.js'
import {
  applyApiserverPatch,
  kubeadmChangeOf,
  planApiserverPatch,
  planChangesSomething,
} from '../controlplane/patch-apiserver.js'
import {enableWrittenPaths, whitelistPaths} from './files.js'
import {readIfExists, sha256} from './node-files.js'
import {PLACEMENTS} from './placements/index.js'
import {IMAGE_POLICY_PLUGIN} from './plan.js'
import {removeLeftovers} from './leftovers.js'
import {readState, type WhitelistResult} from './state.js'

export interface WhitelistDisableOptions {
  configDir: string
  /** Where an unfinished enable may have left the static pod (when there is no state.json). */
  manifestsDir: string
  backupDir: string
  /** Leave the backend (static pod, objects) running. */
  keepBackend: boolean
  force: boolean
  command: string
}

export async function disableWhitelist(
  options: WhitelistDisableOptions,
  cluster: ClusterAccess,
): Promise<WhitelistResult> {
  const paths = whitelistPaths(options.configDir)
  const state = readState(options.configDir)
  if (!state) return {...removeLeftovers(options), warnings: []}
  // Before the first change (kubeadm-config, the manifest): a backend it could not stop would be left half-removed.
  if (!options.keepBackend) await PLACEMENTS[state.placement]?.preflightUndo(state, cluster)
  const changes: string[] = []
  const backups: BackupRecord[] = []
  const plan = await planApiserverPatch({
    manifest: state.manifest,
    backupDir: options.backupDir,
    enablePlugins: [],
    disablePlugins: state.enabledPlugin ? [IMAGE_POLICY_PLUGIN] : [],
    setFlags: {},
    removeFlags: state.setConfigFlag ? ['admission-control-config-file'] : [],
    removeVolumes: state.addedVolumes,
    mountReferencedFiles: false,
    force: options.force,
  })
  if (state.kubeadmConfig) {
    // Else the next "kubeadm upgrade" would put the plugin back, naming files that are gone.
    const recorded = await persistToKubeadmConfig(requireClient(cluster), kubeadmChangeOf(plan))
    changes.push(...recorded.map((line) => `kubeadm-config: ${line}`))
  }
  if (planChangesSomething(plan)) {
    backups.push(...applyApiserverPatch(plan, options.backupDir, options.command))
    changes.push(...plan.changes.map((change) => `kube-apiserver: ${change}`))
  }
  if (state.mergedConfig) {
    const current = readIfExists(state.mergedConfig.file)
    // Untouched since enable: the backup taken before the merge is the exact original.
    if (
      current !== undefined &&
      sha256(current) === state.mergedConfig.sha256 &&
      existsSync(state.mergedConfig.backup)
    ) {
      backups.push(backupFile(state.mergedConfig.file, options.backupDir, options.command))
      writeFileAtomic(state.mergedConfig.file, readFileSync(state.mergedConfig.backup))
      changes.push(`removed the ImagePolicyWebhook entry from ${state.mergedConfig.file}`)
    } else {
      changes.push(
        `left ${state.mergedConfig.file} as it is (changed since enable): remove its ImagePolicyWebhook entry by hand`,
      )
    }
  }
  if (!options.keepBackend)
    await PLACEMENTS[state.placement]?.undo(state, {
      cluster,
      backupDir: options.backupDir,
      command: options.command,
      changes,
      backups,
    })
  // The files enable wrote for the API server (and, unless it keeps running, for the backend): no
  // longer named by the manifest, so nothing is left that a later disable would take for leftovers.
  for (const file of enableWrittenPaths(paths, {backend: !options.keepBackend})) {
    if (existsSync(file)) rmSync(file, {recursive: true, force: true})
  }
  rmSync(paths.state)
  return {changes, warnings: plan.warnings, backups}
}

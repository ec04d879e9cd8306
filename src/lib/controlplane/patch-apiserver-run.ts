// The steps of `patch-apiserver` after the plan: record in kubeadm-config, write with backups, wait
// for the kubelet to restart kube-apiserver, roll back when asked. The command only prints.
import {UserError} from '../errors.js'
import type {KubeClient} from '../cluster/kube-client.js'
import {type MirrorPodState, readMirrorPod, waitForApiserver} from './apiserver-restart.js'
import {persistToKubeadmConfig} from './kubeadm-config.js'
import {applyApiserverPatch, kubeadmChangeOf, type PatchPlan, restoreBackup} from './patch-apiserver.js'

/** `--set-flag name=value` entries as a map; a leading `--` on the name is accepted. */
export function parseSetFlags(entries: string[]): Record<string, string> {
  const flags: Record<string, string> = {}
  for (const entry of entries) {
    const match = /^-{0,2}([a-z0-9][a-z0-9-]*)=(.*)$/s.exec(entry)
    if (!match) throw new UserError(`--set-flag "${entry}": expected name=value, e.g. --set-flag audit-log-maxage=30`)
    flags[match[1]] = match[2]
  }
  return flags
}

/** A plugin cannot be both enabled and disabled by one run. */
export function validatePluginLists(enable: string[], disable: string[]): void {
  const overlap = enable.filter((plugin) => disable.includes(plugin))
  if (overlap.length > 0) throw new UserError(`${overlap.join(', ')} is in both --enable-plugins and --disable-plugins`)
}

/** The API server as seen before the write: afterwards it may be down for a while. */
export async function observeApiserver(client: KubeClient): Promise<{before?: MirrorPodState; warnings: string[]}> {
  const before = await client.call({verb: 'list', resource: 'pods', namespace: 'kube-system'}, () =>
    readMirrorPod(client),
  )
  return {
    before,
    warnings: before ? [] : ['no kube-apiserver mirror pod found in kube-system; --wait only polls /readyz'],
  }
}

/** A progress display (a spinner on a terminal), started only when the wait begins. */
export interface Progress {
  update(text: string): void
  stop(): void
}

export interface PatchRun {
  plan: PatchPlan
  backupDir: string
  /** The command line, recorded with each backup. */
  command: string
  /** Record the change in ConfigMap kube-system/kubeadm-config first (needs the API server up). */
  kubeadmConfig?: KubeClient
  wait?: {
    client: KubeClient
    before?: MirrorPodState
    timeoutMs: number
    rollback: boolean
    progress?: () => Promise<Progress>
  }
  /** Each line of the report, as soon as it is known (the wait can take minutes). */
  report: (line: string) => void
}

/** Write the plan; with `wait`, fail (after a rollback when asked) unless the API server comes back. */
export async function runApiserverPatch(run: PatchRun): Promise<void> {
  const {plan, backupDir, command, report} = run
  if (run.kubeadmConfig) {
    const recorded = await persistToKubeadmConfig(run.kubeadmConfig, kubeadmChangeOf(plan))
    report(
      recorded.length > 0
        ? `recorded in ConfigMap kube-system/kubeadm-config:\n${recorded.map((line) => `  ${line}`).join('\n')}`
        : 'ConfigMap kube-system/kubeadm-config already records these settings',
    )
  }
  const backups = applyApiserverPatch(plan, backupDir, command)
  report(`patched ${plan.manifest.file}:\n${plan.changes.map((change) => `  ${change}`).join('\n')}`)
  for (const backup of backups) report(`backup of ${backup.file}: ${backup.backup}`)
  if (!run.kubeadmConfig)
    report(
      'note: "kubeadm upgrade" regenerates this manifest and drops these changes; run this command again after an upgrade, or use --persist-kubeadm-config.',
    )
  if (!run.wait) return
  const {client, before, timeoutMs} = run.wait
  const progress = await run.wait.progress?.()
  const result = await waitForApiserver(client, before, {
    timeoutMs,
    onProgress: (text) => progress?.update(text),
  }).finally(() => progress?.stop())
  if (result.ready) {
    report(result.detail)
    return
  }
  if (run.wait.rollback) {
    for (const backup of [...backups].reverse())
      restoreBackup(backup.file, backupDir, `${command} (automatic rollback)`, backup.backup)
    throw new UserError(
      `ROLLED BACK: ${result.detail}. ${backups.map((b) => b.file).join(' and ')} restored from the backup taken before this change; the kubelet will restart kube-apiserver with the previous manifest`,
    )
  }
  throw new UserError(
    `${result.detail}. The change is still in place; undo it with: kubectl imgsec patch-apiserver --manifest ${plan.manifest.file} --backup-dir ${backupDir} --restore`,
  )
}

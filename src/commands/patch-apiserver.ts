import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {UserError} from '../lib/errors.js'
import {backupDirFlag, debugFlag, flatList, kubeconfigFlags, listFlag} from '../cli/flags.js'
import {DEFAULT_MANIFEST} from '../lib/controlplane/paths.js'

const list = (values: string[] | undefined) => flatList(values) ?? []

export default class PatchApiserver extends BaseCommand {
  static override summary = 'Edit the kube-apiserver static pod manifest safely: admission plugins, flags, volumes; backed up, atomic, restorable.'

  static override description = `Run it on the control-plane node (as root). Only the lines that must change, change: comments, order, quoting and indentation stay. Before anything is written the result is checked as the API server will check it (admission configuration, webhook kubeconfig, files visible inside the pod); --force writes anyway.

Backups go to --backup-dir, outside /etc/kubernetes/manifests: the kubelet runs every non-hidden file there, so a kube-apiserver.yaml.bak next to the manifest would start a second API server. The same patch twice writes nothing the second time.

kubeadm regenerates this manifest on "kubeadm upgrade": re-run the command afterwards.`

  static override examples = [
    {description: 'Enable ImagePolicyWebhook with its admission configuration', command: 'kubectl imgsec patch-apiserver --enable-plugins ImagePolicyWebhook --admission-config /etc/kubernetes/imgsec/admission-configuration.yaml'},
    {description: 'See the change without writing it', command: 'kubectl imgsec patch-apiserver --enable-plugins ImagePolicyWebhook --admission-config /etc/kubernetes/imgsec/admission-configuration.yaml --dry-run'},
    {description: 'Write, wait for the API server to come back, roll back if it does not', command: 'kubectl imgsec patch-apiserver --enable-plugins EventRateLimit --admission-config /etc/kubernetes/admission.yaml --wait --rollback-on-failure'},
    {description: 'Put the newest backup back', command: 'kubectl imgsec patch-apiserver --restore'},
    {description: 'List backups', command: 'kubectl imgsec patch-apiserver --list-backups -o json'},
  ]

  static override flags = {
    manifest: Flags.string({description: 'The kube-apiserver static pod manifest.', default: DEFAULT_MANIFEST}),
    'enable-plugins': listFlag({description: 'Admission plugins to enable (comma-separated or repeated); removed from --disable-admission-plugins.'}),
    'disable-plugins': listFlag({description: 'Admission plugins to take out of --enable-admission-plugins (comma-separated or repeated).'}),
    'admission-config': Flags.string({description: 'AdmissionConfiguration file for --admission-control-config-file; merged into an existing one.'}),
    'set-flag': Flags.string({description: 'Set an API server flag: name=value (repeatable).', multiple: true}),
    'remove-flag': Flags.string({description: 'Remove an API server flag by name (repeatable).', multiple: true}),
    'backup-dir': backupDirFlag(),
    'dry-run': Flags.boolean({description: 'Print a unified diff of the change; write nothing.', default: false}),
    restore: Flags.string({description: 'Put back a backup byte for byte: the newest, or the one named (--restore=NAME). The current file is backed up first; that copy is never "the newest", so a second --restore puts back the same backup.'}),
    'list-backups': Flags.boolean({description: 'List the backups of the manifest.', default: false}),
    output: Flags.option({char: 'o', description: 'Output format for --list-backups.', options: ['table', 'json'] as const, default: 'table' as const})(),
    force: Flags.boolean({description: 'Write even when the preflight check finds problems.', default: false}),
    'persist-kubeadm-config': Flags.boolean({description: 'Also record the flags and volumes in ConfigMap kube-system/kubeadm-config (apiServer.extraArgs/extraVolumes), so "kubeadm upgrade" keeps them.', default: false}),
    wait: Flags.boolean({description: 'After writing, wait for the kubelet to restart kube-apiserver and for /readyz (through the kubeconfig).', default: false}),
    timeout: Flags.string({description: 'How long --wait waits (Go duration).', default: '5m'}),
    'rollback-on-failure': Flags.boolean({description: 'With --wait: restore the backup when the API server does not come back.', default: false, dependsOn: ['wait']}),
    ...kubeconfigFlags,
    debug: debugFlag,
  }

  override async init(): Promise<void> {
    // --restore takes an optional value: a bare --restore means the newest backup.
    const index = this.argv.indexOf('--restore')
    if (index >= 0 && (index === this.argv.length - 1 || this.argv[index + 1].startsWith('-'))) this.argv.splice(index + 1, 0, 'latest')
    await super.init()
  }

  /** Connect before writing: afterwards the API server may be down for a while. */
  private async prepareWait(flags: {kubeconfig?: string; context?: string; as?: string}) {
    const {createKubeClient} = await import('../lib/cluster/kube-client.js')
    const {readMirrorPod} = await import('../lib/controlplane/apiserver-restart.js')
    const client = await createKubeClient(flags)
    const before = await client.call({verb: 'list', resource: 'pods', namespace: 'kube-system'}, () => readMirrorPod(client))
    if (!before) process.stderr.write('warning: no kube-apiserver mirror pod found in kube-system; --wait only polls /readyz\n')
    return {client, before}
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(PatchApiserver)
    const lib = await import('../lib/controlplane/patch-apiserver.js')
    const command = ['kubectl imgsec patch-apiserver', ...this.argv].join(' ')
    if (flags['list-backups']) {
      const records = lib.backupsOf(flags.manifest, flags['backup-dir'])
      if (flags.output === 'json') process.stdout.write(JSON.stringify(records, null, 2) + '\n')
      else if (records.length === 0) process.stdout.write(`no backups of ${flags.manifest} in ${flags['backup-dir']}\n`)
      else {
        const {madeByRestore} = await import('../lib/controlplane/backups.js')
        for (const r of records) process.stdout.write(`${r.time}  ${r.backup}  sha256:${r.sha256.slice(0, 12)}  ${r.command}${madeByRestore(r) ? '  (replaced by a restore; a bare --restore skips it)' : ''}\n`)
      }
      return
    }
    if (flags.restore !== undefined) {
      const result = lib.restoreBackup(flags.manifest, flags['backup-dir'], command, flags.restore === 'latest' ? undefined : flags.restore)
      process.stdout.write(result.unchanged
        ? `${flags.manifest} already has the content of ${result.restored.backup}: nothing written\n`
        : `restored ${flags.manifest} from ${result.restored.backup}${result.backup ? ` (the replaced file is kept as ${result.backup.backup})` : ''}\n`)
      return
    }
    const setFlags: Record<string, string> = {}
    for (const entry of flags['set-flag'] ?? []) {
      const match = /^-{0,2}([a-z0-9][a-z0-9-]*)=(.*)$/s.exec(entry)
      if (!match) throw new UserError(`--set-flag "${entry}": expected name=value, e.g. --set-flag audit-log-maxage=30`)
      setFlags[match[1]] = match[2]
    }
    const options = {
      manifest: flags.manifest,
      backupDir: flags['backup-dir'],
      enablePlugins: list(flags['enable-plugins']),
      disablePlugins: list(flags['disable-plugins']),
      admissionConfig: flags['admission-config'],
      setFlags,
      removeFlags: list(flags['remove-flag']).map((name) => name.replace(/^--/, '')),
      force: flags.force,
    }
    const overlap = options.enablePlugins.filter((plugin) => options.disablePlugins.includes(plugin))
    if (overlap.length > 0) throw new UserError(`${overlap.join(', ')} is in both --enable-plugins and --disable-plugins`)
    const plan = await lib.planApiserverPatch(options)
    for (const warning of plan.warnings) process.stderr.write(`warning: ${warning}\n`)
    if (!lib.planChangesSomething(plan)) {
      process.stdout.write(`${flags.manifest} already configured: nothing written\n`)
      return
    }
    if (flags['dry-run']) {
      const {unifiedDiff} = await import('../lib/diff.js')
      for (const change of [plan.admissionConfig, plan.manifest]) {
        if (change && change.before !== change.after) process.stdout.write(unifiedDiff(change.before, change.after, {from: change.file, to: `${change.file} (patched)`}))
      }
      return
    }
    const {parseDuration} = await import('../lib/duration.js')
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const waiting = flags.wait ? await this.prepareWait(flags) : undefined
    // Recorded before the manifest is written: afterwards the API server restarts and may be down for a while.
    if (flags['persist-kubeadm-config']) {
      const {createKubeClient} = await import('../lib/cluster/kube-client.js')
      const {persistToKubeadmConfig} = await import('../lib/controlplane/kubeadm-config.js')
      const client = waiting?.client ?? await createKubeClient(flags)
      const recorded = await persistToKubeadmConfig(client, lib.kubeadmChangeOf(plan))
      process.stdout.write(recorded.length > 0
        ? `recorded in ConfigMap kube-system/kubeadm-config:\n${recorded.map((line) => `  ${line}\n`).join('')}`
        : 'ConfigMap kube-system/kubeadm-config already records these settings\n')
    }
    const backups = lib.applyApiserverPatch(plan, flags['backup-dir'], command)
    process.stdout.write(`patched ${flags.manifest}:\n${plan.changes.map((change) => `  ${change}\n`).join('')}`)
    for (const backup of backups) process.stdout.write(`backup of ${backup.file}: ${backup.backup}\n`)
    if (!flags['persist-kubeadm-config']) process.stdout.write('note: "kubeadm upgrade" regenerates this manifest and drops these changes; run this command again after an upgrade, or use --persist-kubeadm-config.\n')
    if (!waiting) return
    const {startProgress} = await import('../cli/spinner.js')
    const {waitForApiserver} = await import('../lib/controlplane/apiserver-restart.js')
    const progress = await startProgress('waiting for kube-apiserver')
    const result = await waitForApiserver(waiting.client, waiting.before, {timeoutMs, onProgress: (text) => progress.update(text)}).finally(() => progress.stop())
    if (result.ready) {
      process.stdout.write(`${result.detail}\n`)
      return
    }
    if (flags['rollback-on-failure']) {
      for (const backup of [...backups].reverse()) lib.restoreBackup(backup.file, flags['backup-dir'], `${command} (automatic rollback)`, backup.backup)
      throw new UserError(`ROLLED BACK: ${result.detail}. ${backups.map((b) => b.file).join(' and ')} restored from the backup taken before this change; the kubelet will restart kube-apiserver with the previous manifest`)
    }
    throw new UserError(`${result.detail}. The change is still in place; undo it with: kubectl imgsec patch-apiserver --manifest ${flags.manifest} --backup-dir ${flags['backup-dir']} --restore`)
  }
}

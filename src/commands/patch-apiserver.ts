import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {UserError} from '../lib/errors.js'
import {
  backupDirFlag,
  debugFlag,
  fillOptionalValue,
  flatList,
  kubeconfigFlags,
  kubeTarget,
  givenFlags,
  listFlag,
  refuseInapplicable,
} from '../cli/flags.js'
import {parseDuration} from '../lib/duration.js'
import {DEFAULT_MANIFEST} from '../lib/controlplane/paths.js'

const list = (values: string[] | undefined) => flatList(values) ?? []

export default class PatchApiserver extends BaseCommand {
  static override summary =
    'Edit the kube-apiserver static pod manifest safely: admission plugins, flags, volumes; backed up, atomic, restorable.'

  static override description = `Run it on the control-plane node (as root). Only the lines that must change, change: comments, order, quoting and indentation stay. Before anything is written the result is checked as the API server will check it (admission configuration, webhook kubeconfig, files visible inside the pod); --force writes anyway.

Backups go to --backup-dir, outside /etc/kubernetes/manifests: the kubelet runs every non-hidden file there, so a kube-apiserver.yaml.bak next to the manifest would start a second API server. The same patch twice writes nothing the second time.

kubeadm regenerates this manifest on "kubeadm upgrade": re-run the command afterwards.`

  static override examples = [
    {
      description: 'Enable ImagePolicyWebhook with its admission configuration',
      command:
        'kubectl imgsec patch-apiserver --enable-plugins ImagePolicyWebhook --admission-config /etc/kubernetes/imgsec/admission-configuration.yaml',
    },
    {
      description: 'See the change without writing it',
      command:
        'kubectl imgsec patch-apiserver --enable-plugins ImagePolicyWebhook --admission-config /etc/kubernetes/imgsec/admission-configuration.yaml --dry-run',
    },
    {
      description: 'Write, wait for the API server to come back, roll back if it does not',
      command:
        'kubectl imgsec patch-apiserver --enable-plugins EventRateLimit --admission-config /etc/kubernetes/admission.yaml --wait --rollback-on-failure',
    },
    {description: 'Put the newest backup back', command: 'kubectl imgsec patch-apiserver --restore'},
    {description: 'List backups', command: 'kubectl imgsec patch-apiserver --list-backups -o json'},
  ]

  static override flags = {
    manifest: Flags.string({description: 'The kube-apiserver static pod manifest.', default: DEFAULT_MANIFEST}),
    'enable-plugins': listFlag({
      description:
        'Admission plugins to enable (comma-separated or repeated); removed from --disable-admission-plugins.',
    }),
    'disable-plugins': listFlag({
      description: 'Admission plugins to take out of --enable-admission-plugins (comma-separated or repeated).',
    }),
    'admission-config': Flags.string({
      description: 'AdmissionConfiguration file for --admission-control-config-file; merged into an existing one.',
    }),
    'set-flag': Flags.string({description: 'Set an API server flag: name=value (repeatable).', multiple: true}),
    'remove-flag': Flags.string({description: 'Remove an API server flag by name (repeatable).', multiple: true}),
    'backup-dir': backupDirFlag(),
    'dry-run': Flags.boolean({description: 'Print a unified diff of the change; write nothing.', default: false}),
    restore: Flags.string({
      description:
        'Put back a backup byte for byte: the newest, or the one named (--restore=NAME). The current file is backed up first; that copy is never "the newest", so a second --restore puts back the same backup.',
    }),
    'list-backups': Flags.boolean({description: 'List the backups of the manifest.', default: false}),
    output: Flags.option({
      char: 'o',
      description: 'Output format for --list-backups.',
      options: ['table', 'json'] as const,
      default: 'table' as const,
    })(),
    force: Flags.boolean({description: 'Write even when the preflight check finds problems.', default: false}),
    'persist-kubeadm-config': Flags.boolean({
      description:
        'Also record the flags and volumes in ConfigMap kube-system/kubeadm-config (apiServer.extraArgs/extraVolumes), so "kubeadm upgrade" keeps them.',
      default: false,
    }),
    wait: Flags.boolean({
      description:
        'After writing, wait for the kubelet to restart kube-apiserver and for /readyz (through the kubeconfig).',
      default: false,
    }),
    timeout: Flags.string({description: 'How long --wait waits (Go duration).', default: '5m'}),
    'rollback-on-failure': Flags.boolean({
      description: 'With --wait: restore the backup when the API server does not come back.',
      default: false,
    }),
    ...kubeconfigFlags,
    debug: debugFlag,
  }

  override async init(): Promise<void> {
    // --restore takes an optional value (oclif flags cannot): a bare --restore means the newest backup.
    fillOptionalValue(this.argv, '--restore', 'latest')
    await super.init()
  }

  async run(): Promise<void> {
    const {flags, metadata} = await this.parse(PatchApiserver)
    // oclif's dependsOn checks a flag whenever it has a value, a default false included: it never
    // refused --rollback-on-failure without --wait. These rules look at the flags the user typed.
    refuseInapplicable(givenFlags(flags, metadata), [
      {flags: ['rollback-on-failure', 'timeout'], appliesTo: 'with --wait', when: flags.wait},
      {flags: ['output'], appliesTo: 'with --list-backups', when: flags['list-backups']},
    ])
    const lib = await import('../lib/controlplane/patch-apiserver.js')
    const command = ['kubectl imgsec patch-apiserver', ...this.argv].join(' ')
    validateMode(flags)
    if (flags['list-backups']) {
      const records = lib.backupsOf(flags.manifest, flags['backup-dir'])
      if (flags.output === 'json') process.stdout.write(JSON.stringify(records, null, 2) + '\n')
      else if (records.length === 0) process.stdout.write(`no backups of ${flags.manifest} in ${flags['backup-dir']}\n`)
      else {
        const {madeByRestore} = await import('../lib/controlplane/backups.js')
        for (const r of records)
          process.stdout.write(
            `${r.time}  ${r.backup}  sha256:${r.sha256.slice(0, 12)}  ${r.command}${madeByRestore(r) ? '  (replaced by a restore; a bare --restore skips it)' : ''}\n`,
          )
      }
      return
    }
    if (flags.restore !== undefined) {
      const result = lib.restoreBackup(
        flags.manifest,
        flags['backup-dir'],
        command,
        flags.restore === 'latest' ? undefined : flags.restore,
      )
      process.stdout.write(
        result.unchanged
          ? `${flags.manifest} already has the content of ${result.restored.backup}: nothing written\n`
          : `restored ${flags.manifest} from ${result.restored.backup}${result.backup ? ` (the replaced file is kept as ${result.backup.backup})` : ''}\n`,
      )
      return
    }

    // Complete and validate the patch.
    const {observeApiserver, parseSetFlags, runApiserverPatch, validatePluginLists} =
      await import('../lib/controlplane/patch-apiserver-run.js')
    const options = {
      manifest: flags.manifest,
      backupDir: flags['backup-dir'],
      enablePlugins: list(flags['enable-plugins']),
      disablePlugins: list(flags['disable-plugins']),
      admissionConfig: flags['admission-config'],
      setFlags: parseSetFlags(flags['set-flag'] ?? []),
      removeFlags: list(flags['remove-flag']).map((name) => name.replace(/^--/, '')),
      force: flags.force,
      dryRun: flags['dry-run'],
    }
    validatePluginLists(options.enablePlugins, options.disablePlugins)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const plan = await lib.planApiserverPatch(options)
    for (const warning of plan.warnings) process.stderr.write(`warning: ${warning}\n`)
    if (!lib.planChangesSomething(plan)) {
      process.stdout.write(`${flags.manifest} already configured: nothing written\n`)
      return
    }
    if (flags['dry-run']) {
      const {unifiedDiff} = await import('../lib/diff.js')
      for (const change of [plan.admissionConfig, plan.manifest]) {
        if (change && change.before !== change.after)
          process.stdout.write(
            unifiedDiff(change.before, change.after, {from: change.file, to: `${change.file} (patched)`}),
          )
      }
      return
    }

    // Run: connect before writing (afterwards the API server may be down for a while).
    const needsCluster = flags.wait || flags['persist-kubeadm-config']
    const client = needsCluster
      ? await (await import('../lib/cluster/kube-client.js')).createKubeClient(kubeTarget(flags))
      : undefined
    const observed = client && flags.wait ? await observeApiserver(client) : undefined
    for (const warning of observed?.warnings ?? []) process.stderr.write(`warning: ${warning}\n`)
    const {startProgress} = await import('../cli/spinner.js')
    await runApiserverPatch({
      plan,
      backupDir: flags['backup-dir'],
      command,
      kubeadmConfig: flags['persist-kubeadm-config'] ? client : undefined,
      wait:
        client && flags.wait
          ? {
              client,
              before: observed?.before,
              timeoutMs,
              rollback: flags['rollback-on-failure'],
              progress: () => startProgress('waiting for kube-apiserver'),
            }
          : undefined,
      report: (line) => process.stdout.write(`${line}\n`),
    })
  }
}

/** One action per run: a change, a restore, or a listing; and a run that asks for nothing is a mistake. */
function validateMode(
  flags: {
    'list-backups': boolean
    restore?: string
    'dry-run': boolean
    wait: boolean
    'persist-kubeadm-config': boolean
  } & Record<string, unknown>,
): void {
  const changes = ['enable-plugins', 'disable-plugins', 'admission-config', 'set-flag', 'remove-flag'].filter(
    (name) => flags[name] !== undefined,
  )
  const changeOnly = ['dry-run', 'wait', 'persist-kubeadm-config'].filter((name) => flags[name] === true)
  const mode = flags['list-backups'] ? '--list-backups' : flags.restore === undefined ? undefined : '--restore'
  if (mode) {
    const other =
      [...changes, ...changeOnly][0] ??
      (mode === '--list-backups' && flags.restore !== undefined ? 'restore' : undefined)
    if (other) throw new UserError(`${mode} cannot be combined with --${other}: run them one after the other`)
    return
  }
  if (changes.length === 0) {
    throw new UserError(
      'nothing to do: give --enable-plugins, --disable-plugins, --admission-config, --set-flag or --remove-flag (or --restore, --list-backups)',
    )
  }
}

import {Flags} from '@oclif/core'

import {DEFAULT_MANIFESTS_DIR} from '../../lib/controlplane/paths.js'
import {BaseCommand} from '../../cli/base-command.js'
import {
  backupDirFlag,
  configDirFlag,
  debugFlag,
  givenFlags,
  kubeconfigFlags,
  kubeTarget,
  refuseOtherModeFlags,
} from '../../cli/flags.js'

export default class WhitelistDisable extends BaseCommand {
  static override summary =
    'Remove exactly what "whitelist enable" added to the API server, and the backend; backups stay.'

  static override examples = [
    {description: 'Turn the whitelist off', command: 'kubectl imgsec whitelist disable'},
    {description: 'Keep the backend running', command: 'kubectl imgsec whitelist disable --keep-backend'},
  ]

  static override flags = {
    mode: Flags.option({
      description: 'What "whitelist enable" set up: webhook or vap.',
      options: ['webhook', 'vap'] as const,
      default: 'webhook' as const,
    })(),
    'params-namespace': Flags.string({
      description: '--mode vap: namespace of the params ConfigMap.',
      default: 'kube-system',
    }),
    ...kubeconfigFlags,
    'config-dir': configDirFlag(),
    'backup-dir': backupDirFlag('Where backups are kept.'),
    'manifests-dir': Flags.string({
      description:
        "The kubelet's static pod directory: where an unfinished enable may have left the backend's static pod.",
      default: DEFAULT_MANIFESTS_DIR,
    }),
    'keep-backend': Flags.boolean({description: 'Leave the backend (static pod) running.', default: false}),
    force: Flags.boolean({description: 'Go on despite preflight problems.', default: false}),
    debug: debugFlag,
  }

  async run(): Promise<void> {
    const {flags, metadata} = await this.parse(WhitelistDisable)
    refuseOtherModeFlags(givenFlags(flags, metadata), flags.mode, [
      'config-dir',
      'manifests-dir',
      'backup-dir',
      'keep-backend',
      'force',
    ])
    const {connectCluster} = await import('../../lib/cluster/connection.js')
    const cluster = await connectCluster(kubeTarget(flags))
    if (flags.mode === 'vap') {
      const {disableVap} = await import('../../lib/whitelist/vap-mode.js')
      const removed = await disableVap({paramsNamespace: flags['params-namespace']}, cluster)
      process.stdout.write(
        removed.length > 0
          ? `registry whitelist (ValidatingAdmissionPolicy) disabled:\n${removed.map((r) => `  ${r}\n`).join('')}`
          : 'no ValidatingAdmissionPolicy from kubectl-imgsec found: nothing changed\n',
      )
      return
    }
    const {disableWhitelist} = await import('../../lib/whitelist/disable.js')
    const result = await disableWhitelist(
      {
        configDir: flags['config-dir'],
        manifestsDir: flags['manifests-dir'],
        backupDir: flags['backup-dir'],
        keepBackend: flags['keep-backend'],
        force: flags.force,
        command: ['kubectl imgsec whitelist disable', ...this.argv].join(' '),
      },
      cluster,
    )
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`)
    process.stdout.write(`registry whitelist disabled:\n${result.changes.map((c) => `  ${c}\n`).join('')}`)
    for (const backup of result.backups) process.stdout.write(`backup of ${backup.file}: ${backup.backup}\n`)
  }
}

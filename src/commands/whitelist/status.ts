import {Flags} from '@oclif/core'

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
import {DEFAULT_MANIFESTS_DIR} from '../../lib/controlplane/paths.js'

export default class WhitelistStatus extends BaseCommand {
  static override summary =
    'Is the registry whitelist on? Plugin, configuration files, backend health, policy, backups.'

  static override description = `The first line says what happens to a pod created now: checked (the backend answers), BLOCKED (the backend does not answer and defaultAllow is false, or the files are broken: every pod creation and update in every namespace is refused), UNCHECKED (the backend does not answer and defaultAllow is true) or not gated. Exit code 2 when pod creation is blocked, 0 otherwise.`

  static override examples = [{description: 'As JSON for scripts', command: 'kubectl imgsec whitelist status -o json'}]

  static override flags = {
    mode: Flags.option({
      description:
        'webhook: the ImagePolicyWebhook files on this node; vap: the ValidatingAdmissionPolicy in the cluster.',
      options: ['webhook', 'vap'] as const,
      default: 'webhook' as const,
    })(),
    'params-namespace': Flags.string({
      description: '--mode vap: namespace of the params ConfigMap.',
      default: 'kube-system',
    }),
    ...kubeconfigFlags,
    'config-dir': configDirFlag(),
    'manifests-dir': Flags.string({description: "The kubelet's static pod directory.", default: DEFAULT_MANIFESTS_DIR}),
    'backup-dir': backupDirFlag('Where backups are kept.'),
    output: Flags.option({
      char: 'o',
      description: 'Output format.',
      options: ['table', 'json'] as const,
      default: 'table' as const,
    })(),
    debug: debugFlag,
  }

  async run(): Promise<void> {
    const {flags, metadata} = await this.parse(WhitelistStatus)
    refuseOtherModeFlags(givenFlags(flags, metadata), flags.mode, ['config-dir', 'manifests-dir', 'backup-dir'])
    if (flags.mode === 'vap') {
      const {vapStatus} = await import('../../lib/whitelist/vap-mode.js')
      const {connectReader} = await import('../../lib/cluster/connection.js')
      const status = await vapStatus(
        {paramsNamespace: flags['params-namespace']},
        await connectReader(kubeTarget(flags)),
      )
      if (status.podCreation.state === 'blocked') process.exitCode = 2
      if (flags.output === 'json') {
        process.stdout.write(JSON.stringify(status, null, 2) + '\n')
        return
      }
      process.stdout.write(
        [
          `pod creation:          ${status.podCreation.detail}`,
          `policy / binding:      ${status.policy ? 'present' : 'absent'} / ${status.binding ? 'present' : 'absent'}`,
          `allowed registries:    ${status.allowedRegistries ? status.allowedRegistries.join(', ') : 'none (no params ConfigMap)'}`,
        ].join('\n') + '\n',
      )
      for (const warning of status.typeCheckingWarnings) process.stderr.write(`warning: type checking: ${warning}\n`)
      return
    }
    const {whitelistStatus} = await import('../../lib/whitelist/status.js')
    const status = await whitelistStatus({
      configDir: flags['config-dir'],
      manifestsDir: flags['manifests-dir'],
      backupDir: flags['backup-dir'],
    })
    // A blocked cluster is a failure a script must notice.
    if (status.podCreation.state === 'blocked') process.exitCode = 2
    if (flags.output === 'json') {
      process.stdout.write(JSON.stringify(status, null, 2) + '\n')
      return
    }
    const yes = (value: boolean | undefined) => (value ? 'yes' : 'no')
    const lines = [
      `pod creation:          ${status.podCreation.detail}`,
      `whitelist enforced:    ${yes(status.enabled)}`,
      `ImagePolicyWebhook:    ${status.pluginEnabled ? 'enabled' : 'not enabled'}`,
      `admission config:      ${status.admissionConfig ? `${status.admissionConfig.file} (${status.admissionConfig.valid ? 'valid' : status.admissionConfig.problem})` : 'none'}`,
      ...(status.admissionConfig?.settings
        ? [
            `  defaultAllow ${status.admissionConfig.settings.defaultAllow}, allowTTL ${status.admissionConfig.settings.allowTTL}s, denyTTL ${status.admissionConfig.settings.denyTTL}s, retryBackoff ${status.admissionConfig.settings.retryBackoff}ms`,
          ]
        : []),
      `webhook kubeconfig:    ${status.webhookKubeconfig ? `${status.webhookKubeconfig.file} (${status.webhookKubeconfig.valid ? 'valid' : status.webhookKubeconfig.problem})` : 'none'}`,
      `backend:               ${status.backend ? `${status.backend.placement} at ${status.backend.url}: ${status.backend.answering ? 'answering' : status.backend.healthy ? 'healthy, not answering reviews' : 'NOT healthy'} (${status.backend.detail})` : 'unknown'}`,
      `allowed registries:    ${status.policy ? (Array.isArray(status.policy.allowedRegistries) ? status.policy.allowedRegistries.join(', ') : 'any') : 'unknown'}`,
      `registry credentials:  ${status.registryCredentials ?? 'none'}`,
      `certificates:          ${status.certificates.length > 0 ? status.certificates.map((c) => `${c.name} ${c.daysLeft < 0 ? 'EXPIRED' : `${c.daysLeft} days left`}`).join(', ') : 'none'}`,
      `backups:               ${status.backups.length}${status.backups.length > 0 ? ` (newest ${status.backups.at(-1)?.backup})` : ''}`,
    ]
    process.stdout.write(lines.join('\n') + '\n')
    for (const warning of status.warnings) process.stderr.write(`warning: ${warning}\n`)
  }
}

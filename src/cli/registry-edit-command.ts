import {Args, Flags} from '@oclif/core'

import {BaseCommand} from './base-command.js'
import {
  configDirFlag,
  debugFlag,
  givenFlags,
  kubeconfigFlags,
  kubeTarget,
  type KubeTargetFlags,
  refuseOtherModeFlags,
} from './flags.js'

/** What add-registry and remove-registry share: the argument, the flags, the edit, the report. */
export abstract class RegistryEditCommand extends BaseCommand {
  static registryArgs = {
    registry: Args.string({description: 'host, host:port, host/path prefix or *.domain', required: true}),
  }

  static registryFlags = {
    mode: Flags.option({
      description:
        "webhook: the static-pod backend's policy on this node; vap: the ValidatingAdmissionPolicy's params ConfigMap in the cluster.",
      options: ['webhook', 'vap'] as const,
      default: 'webhook' as const,
    })(),
    'params-namespace': Flags.string({
      description: '--mode vap: namespace of the params ConfigMap.',
      default: 'kube-system',
    }),
    'config-dir': configDirFlag(),
    ...kubeconfigFlags,
    force: Flags.boolean({description: 'Go on although workloads in kube-system would be refused.', default: false}),
    debug: debugFlag,
  }

  protected abstract readonly operation: 'add' | 'remove'

  async run(): Promise<void> {
    const {args, flags, metadata} = await this.parse(this.constructor as typeof RegistryEditCommand)
    refuseOtherModeFlags(givenFlags(flags, metadata), flags.mode as string, ['config-dir', 'require-signature'])
    const {connectCluster} = await import('../lib/cluster/connection.js')
    const cluster = await connectCluster(kubeTarget(flags as KubeTargetFlags))
    const edit = {
      operation: this.operation,
      registry: args.registry as string,
      force: Boolean(flags.force),
      requireSignature: flags['require-signature'] as boolean | undefined,
    }
    // Impact before change: the running pods the edited allowlist would refuse, printed before the write.
    const context = {cluster, report: (line: string) => process.stderr.write(`${line}\n`)}
    if (flags.mode === 'vap') {
      const {editVapRegistries} = await import('../lib/whitelist/vap-mode.js')
      const edited = await editVapRegistries({...edit, paramsNamespace: flags['params-namespace'] as string}, context)
      process.stdout.write(
        edited.changed
          ? `allowed registries: ${edited.allowedRegistries.join(', ')}\nthe ValidatingAdmissionPolicy applies them within seconds\n`
          : `${args.registry} ${this.operation === 'add' ? 'is already allowed' : 'was not allowed'}: nothing changed\n`,
      )
      return
    }
    const {editAllowedRegistries} = await import('../lib/whitelist/registries.js')
    const result = await editAllowedRegistries(
      {...edit, configDir: flags['config-dir'] as string, timeoutMs: 15_000},
      context,
    )
    if (!result.changed) {
      process.stdout.write(
        `${args.registry} ${this.operation === 'add' ? 'is already allowed' : 'was not allowed'}: nothing changed\n`,
      )
      return
    }
    process.stdout.write(`allowed registries: ${result.allowedRegistries.join(', ')}\n`)
    if (result.unsigned) process.stdout.write(`${args.registry} leaves requireSignature too\n`)
    if (result.signed)
      process.stdout.write(
        `${args.registry}: images must be signed by the same keys as the other registries (requireSignature); --no-require-signature allows them unsigned\n`,
      )
    process.stdout.write(
      result.confirmed
        ? 'the backend reloaded the policy\n'
        : 'warning: the backend did not confirm the new policy yet; check "kubectl imgsec whitelist status"\n',
    )
  }
}

import {BaseCommand} from '../cli/base-command.js'
import {isUserError, UserError} from '../lib/errors.js'
import {kubeconfigFlags, type KubeTargetFlags, kubeTarget} from '../cli/flags.js'

export default class Wizard extends BaseCommand {
  static override summary =
    'Interactive: pick a task, answer a few questions, see the equivalent command, confirm, run it.'

  static override description = `Runs by default when "kubectl imgsec" is started with no arguments in a terminal. Every answer has a default taken from your kubeconfig and the cluster; nothing happens before you confirm, and Ctrl-C at any prompt changes nothing. Without a terminal it never prompts.

kubectl refuses flags before the plugin name ("kubectl --context x imgsec" fails): write "kubectl imgsec wizard --context x".`

  static override examples = [
    {description: 'Start the wizard', command: 'kubectl imgsec'},
    {description: 'With another context', command: 'kubectl imgsec wizard --context staging'},
  ]

  static override flags = {...kubeconfigFlags}

  async run(): Promise<void> {
    const {flags} = await this.parse(Wizard)
    // The prompts throw on a closed or non-terminal stdin: check first, never prompt in scripts.
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new UserError(
        'the wizard needs a terminal; in scripts run the subcommands directly (kubectl imgsec --help lists them)',
      )
    }
    const {confirmPlan, inquirerPrompter, planWizard} = await import('../cli/wizard.js')
    const prompt = await inquirerPrompter()
    const context = await this.context(flags)
    let plan
    try {
      plan = await planWizard(prompt, context)
      if (!(await confirmPlan(prompt, plan, process.stdout))) return
    } catch (error) {
      if ((error as Error).name === 'ExitPromptError' || (error as Error).name === 'AbortPromptError') {
        process.stdout.write('\nCancelled: nothing was changed.\n')
        this.exit(130)
      }
      throw error
    }
    const {id, args} = this.commandOf(plan.argv)
    const kube = Object.entries(flags).flatMap(([name, value]) =>
      value === undefined ? [] : [`--${name}`, String(value)],
    )
    // The kubeconfig flags go to the commands that take them and talk to a cluster (an audit of files does not).
    const takesKubeconfig = this.config.findCommand(id)?.flags.kubeconfig !== undefined
    const usesCluster = takesKubeconfig && !(id === 'audit:images' && args.includes('-f'))
    await this.config.runCommand(id, usesCluster ? [...args, ...kube] : args)
  }

  /** The command id and its arguments from an argv such as `whitelist enable --x`, from oclif's own topics. */
  private commandOf(argv: string[]): {id: string; args: string[]} {
    const [first, second, ...rest] = argv
    const nested = second === undefined ? undefined : `${first}:${second}`
    if (nested && this.config.findCommand(nested)) return {id: nested, args: rest}
    if (!this.config.findCommand(first)) throw new Error(`the wizard built an unknown command: ${first}`)
    return {id: first, args: argv.slice(1)}
  }

  /** Defaults from the kubeconfig and, when the cluster answers, its namespaces and service accounts. */
  private async context(flags: KubeTargetFlags) {
    const {loadKubeconfig} = await import('../lib/cluster/kubeconfig.js')
    const config = loadKubeconfig(flags)
    const {DEFAULT_BACKUP_DIR, DEFAULT_MANIFEST} = await import('../lib/controlplane/paths.js')
    const {backupsOf} = await import('../lib/controlplane/restore.js')
    const {madeByRestore} = await import('../lib/controlplane/backups.js')
    const context: import('../cli/wizard.js').WizardContext = {
      namespace: config.namespace,
      controlPlane: {
        manifest: DEFAULT_MANIFEST,
        backups: () => {
          try {
            return backupsOf(DEFAULT_MANIFEST, DEFAULT_BACKUP_DIR).map((r) => ({
              backup: r.backup,
              time: r.time,
              command: r.command,
              byRestore: madeByRestore(r),
            }))
          } catch {
            return []
          }
        },
      },
      checkLogin: async (server, username, password) => {
        const {verifyRegistryLogin} = await import('../lib/image/registry-client.js')
        try {
          await verifyRegistryLogin({server, username, password, timeoutMs: 15_000})
          return undefined
        } catch (error) {
          // Only a refusal is worth asking again; anything else (no network, TLS) is for the command to report.
          return isUserError(error) && /rejected username/.test(error.message)
            ? error.message.replace(/, nothing was created$/, '')
            : undefined
        }
      },
    }
    if (!config.server) return context
    try {
      const {createKubeClient, listAllPages} = await import('../lib/cluster/kube-client.js')
      // Only defaults for the questions: a slow cluster must not keep the first question waiting.
      const client = await createKubeClient({...kubeTarget(flags), requestTimeout: '5s'}, config)
      const namespaces = await listAllPages((page) => client.core.listNamespace(page))
      context.namespaces = namespaces.map((ns) => ns.metadata?.name ?? '').filter(Boolean)
      context.serviceAccounts = async (namespace) => {
        try {
          return (await client.core.listNamespacedServiceAccount({namespace})).items
            .map((sa) => sa.metadata?.name ?? '')
            .filter(Boolean)
        } catch {
          return []
        }
      }
    } catch {
      // No cluster: the wizard still works, with typed answers instead of lists.
    }
    return context
  }
}

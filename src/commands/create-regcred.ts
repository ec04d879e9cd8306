import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {
  allNamespacesFlag,
  debugFlag,
  dryRunFlag,
  flatList,
  kubeconfigFlags,
  kubeTarget,
  listFlag,
  namespaceFlag,
  outputFlag,
  givenFlags,
  refuseInapplicable,
} from '../cli/flags.js'
import {loadKubeconfig} from '../lib/cluster/kubeconfig.js'
import {formatObjects, type KubeObject} from '../cli/output.js'
import {readPasswordFromStdin} from '../cli/stdin.js'
import {parseRequestTimeout} from '../lib/duration.js'
import type {RegcredOptions} from '../lib/regcred/regcred.js'

export default class CreateRegcred extends BaseCommand {
  static override summary =
    'Create a docker-registry pull secret (as kubectl create secret docker-registry does), check it against the registry, and attach it to service accounts.'

  static override description = `The Secret is byte-for-byte the one "kubectl create secret docker-registry" makes for the same input (type kubernetes.io/dockerconfigjson, key .dockerconfigjson).

Before anything is created the credentials are checked against the registry with the Docker Registry v2 login flow (Basic or Bearer token), so a typo fails here instead of as ImagePullBackOff later. The check is on by default and off with --dry-run=client (which contacts nothing); --no-verify skips it, e.g. when the registry is reachable only from the nodes.

Service accounts: imagePullSecrets is an atomic list, so "kubectl patch serviceaccount … -p '{"imagePullSecrets":[…]}'" drops the secrets already there. --attach-to-sa adds the secret with a resourceVersion-guarded JSON patch and keeps the others.

All flags go after "kubectl imgsec create-regcred": kubectl refuses flags before the plugin name.`

  static override examples = [
    {
      description: 'Pull secret for a private registry, password from stdin',
      command:
        'printf \'%s\' "$PASSWORD" | kubectl imgsec create-regcred private-reg-cred --docker-server myprivateregistry.com:5000 --docker-username dock_user --password-stdin --docker-email dock_user@myprivateregistry.com',
    },
    {
      description: 'Several namespaces at once, attached to their default service account',
      command:
        'kubectl imgsec create-regcred regcred --docker-server registry.example.com --docker-username ci --password-stdin --namespaces team-a,team-b --attach-to-sa default < pw.txt',
    },
    {
      description: 'From an existing docker login, into every namespace, every service account',
      command: 'kubectl imgsec create-regcred regcred --from-docker-config ~/.docker/config.json -A --attach-to-all-sa',
    },
    {
      description: 'Print the Secret without a cluster',
      command:
        'kubectl imgsec create-regcred regcred --docker-server myprivateregistry.com:5000 --docker-username dock_user --docker-password secret --dry-run=client -o yaml',
    },
  ]

  static override args = {
    name: Args.string({description: 'Name of the Secret (DNS-1123 subdomain).', required: true}),
  }

  static override secretFlags = ['docker-password']

  static override flags = {
    'docker-server': Flags.string({
      description: 'Registry server address (default: https://index.docker.io/v1/, as kubectl).',
    }),
    'docker-username': Flags.string({description: 'Username for the registry.'}),
    'docker-password': Flags.string({
      description:
        'Password for the registry (prefer --password-stdin: arguments are visible in ps and shell history).',
      exclusive: ['password-stdin'],
    }),
    'password-stdin': Flags.boolean({
      description: 'Read the password from standard input (one trailing newline is removed).',
      default: false,
    }),
    'docker-email': Flags.string({description: 'Email for the registry (optional).'}),
    'from-docker-config': Flags.string({
      description: 'Use this docker config.json (e.g. ~/.docker/config.json) as the secret content, byte for byte.',
    }),
    namespace: namespaceFlag,
    namespaces: listFlag({
      description: 'Comma-separated namespaces to create the secret in.',
      exclusive: ['namespace', 'all-namespaces'],
    }),
    'all-namespaces': {...allNamespacesFlag, exclusive: ['namespace']},
    'attach-to-sa': listFlag({
      description: 'Comma-separated service accounts to add the secret to (imagePullSecrets), in each namespace.',
      exclusive: ['attach-to-all-sa'],
    }),
    'attach-to-all-sa': Flags.boolean({
      description: 'Add the secret to every service account of each namespace.',
      default: false,
    }),
    verify: Flags.boolean({
      description: 'Log in to the registry before creating anything (default: on, off with --dry-run=client).',
      allowNo: true,
    }),
    'ca-file': Flags.string({description: 'CA certificate (PEM) of the registry, for the verification.'}),
    'insecure-skip-tls-verify': Flags.boolean({
      description: "Don't check the registry's TLS certificate during verification.",
      default: false,
      exclusive: ['ca-file'],
    }),
    overwrite: Flags.boolean({
      description: 'Update the secret if it exists (default: fail with AlreadyExists).',
      default: false,
    }),
    'append-hash': Flags.boolean({
      description: 'Append a hash of the content to the name, as kubectl --append-hash.',
      default: false,
    }),
    'dry-run': dryRunFlag,
    output: outputFlag,
    ...kubeconfigFlags,
    debug: debugFlag,
  }

  async run(): Promise<void> {
    const {args, flags, metadata} = await this.parse(CreateRegcred)
    const verify = flags.verify ?? flags['dry-run'] !== 'client'
    refuseInapplicable(givenFlags(flags, metadata), [
      {
        flags: ['ca-file', 'insecure-skip-tls-verify'],
        appliesTo: 'to the registry check (off with --no-verify and --dry-run=client)',
        when: verify,
      },
    ])
    const lib = await import('../lib/regcred/regcred.js')
    // Complete: the password, the kubeconfig's namespace, the options.
    const password = flags['password-stdin'] ? await readPasswordFromStdin() : flags['docker-password']
    this.registerSecret(password)
    const target = {...kubeTarget(flags), namespace: flags.namespace}
    const kubeconfig = loadKubeconfig(target)
    const options: RegcredOptions = {
      name: args.name,
      server: flags['docker-server'],
      username: flags['docker-username'],
      password,
      email: flags['docker-email'],
      dockerConfigFile: flags['from-docker-config'],
      namespaces: flags['all-namespaces'] ? 'all' : (flatList(flags.namespaces) ?? [kubeconfig.namespace]),
      namespaceExplicit: kubeconfig.namespaceExplicit || flags.namespaces !== undefined,
      attachTo: flags['attach-to-all-sa'] ? 'all' : flatList(flags['attach-to-sa']),
      verify,
      caFile: flags['ca-file'],
      insecureSkipTlsVerify: flags['insecure-skip-tls-verify'],
      registryTimeoutMs: parseRequestTimeout(flags['request-timeout']),
      overwrite: flags.overwrite,
      appendHash: flags['append-hash'],
      dryRun: flags['dry-run'],
    }
    // Validate, before anything is read or sent.
    lib.validateRegcredOptions(options)
    const {payload, credentials} = lib.regcredPayload(options)
    for (const credential of credentials) this.registerSecret(credential.password)

    // Run.
    const {startProgress} = await import('../cli/spinner.js')
    if (options.verify) {
      const checking = await startProgress(
        `checking the registry login (${credentials.map((c) => c.server).join(', ')})`,
      )
      await lib.verifyCredentials(options, credentials).finally(() => checking.stop())
      process.stderr.write(
        `registry login checked: ${credentials.map((c) => `${c.username}@${c.server}`).join(', ')}\n`,
      )
    }
    if (options.dryRun === 'client') {
      const planned = lib.clientDryRun(options, payload)
      process.stdout.write(
        flags.output
          ? formatObjects(
              planned.map((p) => p.secret),
              flags.output,
            )
          : planned.map((p) => `${p.line}\n`).join(''),
      )
      return
    }
    const {createKubeClient} = await import('../lib/cluster/kube-client.js')
    const client = await createKubeClient(target, kubeconfig)
    const progress = await startProgress('creating pull secrets', {enabled: !flags.output})
    const secretName = lib.buildRegcredSecret(options, payload).metadata.name
    const created: KubeObject[] = []
    let failures = 0
    try {
      await lib.applyRegcred(options, client, payload, (result) => {
        progress.stop()
        if (result.secret) created.push(result.secret)
        const line = lib.describeNamespaceResult(result, secretName, options.dryRun)
        if (line && !flags.output) process.stdout.write(`${line}\n`)
        if (result.error) {
          failures++
          this.printError(`namespace "${result.namespace}": ${result.error}`)
        }
      })
    } finally {
      progress.stop()
    }
    if (flags.output && created.length > 0) process.stdout.write(formatObjects(created, flags.output))
    if (failures > 0) this.exit(1)
  }
}

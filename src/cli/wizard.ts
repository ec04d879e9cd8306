import {existsSync} from 'node:fs'

import {UserError} from '../lib/errors.js'
import {dns1123LabelProblem, dns1123SubdomainProblem} from '../lib/names.js'
import {registryPatternProblem} from '../lib/policy/policy.js'

/**
 * The interactive wizard asks, then runs the very subcommand a user could have typed (same code,
 * no second implementation) and shows that command line first. Prompts go through this interface
 * so that tests can drive the flows without a terminal.
 */
export interface Prompter {
  select<T extends string>(question: {
    message: string
    choices: Array<{name: string; value: T; description?: string}>
    default?: T
  }): Promise<T>
  input(question: {message: string; default?: string; validate?: (value: string) => true | string}): Promise<string>
  password(question: {message: string; validate?: (value: string) => true | string}): Promise<string>
  confirm(question: {message: string; default?: boolean}): Promise<boolean>
}

/** What the wizard found out about the cluster, for defaults and choices (all optional: it also works offline). */
export interface WizardContext {
  namespace: string
  namespaces?: string[]
  serviceAccounts?: (namespace: string) => Promise<string[]>
  /**
   * The kube-apiserver manifest on this machine (for the control-plane tasks) and the backups of
   * it, newest last: checked before any question, so a wrong machine is said at once.
   */
  controlPlane?: {
    manifest: string
    backups: () => Array<{backup: string; time: string; command: string; byRestore: boolean}>
  }
  /** Ask the registry whether the credentials work: a problem, or undefined when they do. */
  checkLogin?: (server: string, username: string, password: string) => Promise<string | undefined>
}

/** How many times a refused password is asked again before the wizard gives up. */
const PASSWORD_ATTEMPTS = 3

/** The control-plane tasks run on a control-plane node: say so before the first question. */
function requireManifest(context: WizardContext): string {
  const manifest = context.controlPlane?.manifest
  if (!manifest || !existsSync(manifest)) {
    throw new UserError(
      `there is no kube-apiserver manifest${manifest ? ` at ${manifest}` : ''} on this machine: run this task on a control-plane node, as root`,
    )
  }
  return manifest
}

export interface WizardPlan {
  /** The subcommand to run, e.g. ['create-regcred', 'regcred', '--docker-server', …]. */
  argv: string[]
  /** The same as a command line a person can copy (secrets replaced by how to pass them). */
  commandLine: string
  summary: string[]
}

export type WizardTask = 'create-regcred' | 'whitelist-enable' | 'audit' | 'patch-apiserver' | 'restore' | 'status'

const required = (what: string) => (value: string) => (value.trim() === '' ? `${what} is required` : true)
const orTrue = (problem: string | undefined) => problem ?? true
const shellQuote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`)

function commandLine(argv: string[], secretFlags: Record<string, string> = {}): string {
  const shown: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const replacement = secretFlags[argv[i]]
    if (replacement !== undefined) {
      shown.push(replacement)
      i++
      continue
    }
    shown.push(shellQuote(argv[i]))
  }
  return ['kubectl', 'imgsec', ...shown].join(' ')
}

async function createRegcredFlow(prompt: Prompter, context: WizardContext): Promise<WizardPlan> {
  const name = await prompt.input({
    message: 'Secret name',
    default: 'regcred',
    validate: (v) => orTrue(dns1123SubdomainProblem(v) && `invalid secret name: ${dns1123SubdomainProblem(v)}`),
  })
  const server = await prompt.input({
    message: 'Registry server',
    default: 'https://index.docker.io/v1/',
    validate: required('the registry server'),
  })
  const username = await prompt.input({message: 'Username', validate: required('the username')})
  const email = await prompt.input({message: 'Email (optional)', default: ''})
  const namespace =
    context.namespaces && context.namespaces.length > 0
      ? await prompt.select({
          message: 'Namespace',
          choices: context.namespaces.map((ns) => ({name: ns, value: ns})),
          default: context.namespace,
        })
      : await prompt.input({
          message: 'Namespace',
          default: context.namespace,
          validate: (v) => orTrue(dns1123LabelProblem(v) && `invalid namespace: ${dns1123LabelProblem(v)}`),
        })
  const accounts = (await context.serviceAccounts?.(namespace)) ?? []
  const attach =
    accounts.length > 0
      ? await prompt.select({
          message: 'Attach it to a service account (pods then pull without listing the secret)?',
          choices: [{name: 'no', value: ''}, ...accounts.map((sa) => ({name: sa, value: sa}))],
          default: accounts.includes('default') ? 'default' : '',
        })
      : await prompt.input({message: 'Attach it to service accounts (comma-separated, empty for none)', default: ''})
  const verify = await prompt.confirm({message: 'Check the credentials against the registry first?', default: true})
  // The password last, checked at once: a typo costs one question, not the whole wizard.
  let password = ''
  for (let attempt = 1; ; attempt++) {
    // eslint-disable-next-line no-await-in-loop -- a question asked again, one at a time
    password = await prompt.password({message: 'Password (not shown)', validate: required('the password')})
    // eslint-disable-next-line no-await-in-loop
    const problem = verify ? await context.checkLogin?.(server, username, password) : undefined
    if (!problem) break
    if (attempt === PASSWORD_ATTEMPTS) throw new UserError(`${problem} (${PASSWORD_ATTEMPTS} attempts)`)
    process.stderr.write(`${problem}; try again\n`)
  }
  const argv = [
    'create-regcred',
    name,
    '--docker-server',
    server,
    '--docker-username',
    username,
    '--docker-password',
    password,
    '-n',
    namespace,
  ]
  if (email) argv.push('--docker-email', email)
  if (attach) argv.push('--attach-to-sa', attach)
  if (!verify) argv.push('--no-verify')
  return {
    argv,
    commandLine: commandLine(argv, {'--docker-password': '--password-stdin'}),
    summary: [
      `pull secret ${name} in namespace ${namespace} for ${username}@${server}`,
      attach ? `attached to service accounts: ${attach}` : 'not attached to a service account',
      verify ? 'credentials checked against the registry first' : 'no registry check',
    ],
  }
}

async function whitelistFlow(prompt: Prompter, context: WizardContext): Promise<WizardPlan> {
  const mode = await prompt.select({
    message: 'How should the whitelist be enforced?',
    choices: [
      {
        name: 'ImagePolicyWebhook with our backend as a static pod (run this on the control-plane node)',
        value: 'static',
      },
      {name: 'ValidatingAdmissionPolicy, no server (Kubernetes 1.30+)', value: 'vap'},
    ],
    default: 'static',
  })
  if (mode !== 'vap') requireManifest(context)
  const registries = await prompt.input({
    message: 'Allowed registries (comma-separated)',
    default: 'docker.io,registry.k8s.io',
    validate: (value) => {
      const entries = value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
      if (entries.length === 0) return 'name at least one registry'
      const bad = entries.find((entry) => registryPatternProblem(entry))
      return bad ? `"${bad}": ${registryPatternProblem(bad)}` : true
    },
  })
  const argv = [
    'whitelist',
    'enable',
    '--allowed-registries',
    registries
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .join(','),
  ]
  if (mode === 'vap') argv.push('--mode', 'vap')
  if (
    mode !== 'vap' &&
    !(await prompt.confirm({
      message:
        'When the backend cannot be reached, refuse every pod creation and update in every namespace, kube-system included (defaultAllow: false)? No admits them unchecked.',
      default: true,
    }))
  )
    argv.push('--default-allow')
  const outage =
    mode === 'vap'
      ? []
      : [
          argv.includes('--default-allow')
            ? 'if the backend stops answering: pods are admitted without an image check'
            : 'if the backend stops answering: every pod creation and update in every namespace is refused, kube-system included ("whitelist status" tells)',
        ]
  return {
    argv,
    commandLine: commandLine(argv),
    summary: [
      mode === 'vap'
        ? 'a ValidatingAdmissionPolicy enforcing the allowlist'
        : 'ImagePolicyWebhook with a static-pod backend on this node',
      `allowed registries: ${argv[3]}`,
      ...outage,
    ],
  }
}

async function auditFlow(prompt: Prompter, context: WizardContext): Promise<WizardPlan> {
  const source = await prompt.select({
    message: 'What should be audited?',
    choices: [
      {name: 'manifest files', value: 'files'},
      {name: 'this namespace of the cluster', value: 'namespace'},
      {name: 'every namespace', value: 'all'},
    ],
    default: 'files',
  })
  const argv = ['audit', 'images']
  if (source === 'files')
    argv.push(
      '-f',
      await prompt.input({
        message: 'File or directory',
        default: '.',
        validate: (v) => (existsSync(v) ? true : `${v} does not exist`),
      }),
    )
  else if (source === 'namespace') argv.push('-n', context.namespace)
  else argv.push('-A')
  return {
    argv,
    commandLine: commandLine(argv),
    summary: [
      `audit images of ${source === 'files' ? argv[3] : source === 'all' ? 'every namespace' : `namespace ${context.namespace}`}`,
    ],
  }
}

async function patchFlow(prompt: Prompter, context: WizardContext): Promise<WizardPlan> {
  requireManifest(context)
  const plugins = await prompt.input({
    message: 'Admission plugins to enable (comma-separated)',
    default: 'ImagePolicyWebhook',
    validate: required('a plugin'),
  })
  const config = await prompt.input({
    message: 'AdmissionConfiguration file (empty for none)',
    default: '',
    validate: (v) => (v === '' || existsSync(v) ? true : `${v} does not exist`),
  })
  const argv = ['patch-apiserver', '--enable-plugins', plugins]
  if (config) argv.push('--admission-config', config)
  const dryRun = await prompt.confirm({message: 'Only show the change (dry run)?', default: true})
  if (dryRun) argv.push('--dry-run')
  return {
    argv,
    commandLine: commandLine(argv),
    summary: [
      `enable ${plugins} in the kube-apiserver manifest${config ? ` with ${config}` : ''}`,
      dryRun ? 'dry run: nothing written' : 'backed up and written atomically',
    ],
  }
}

/** Restore names the backup it will put back: the newest one a restore did not make. */
function restoreFlow(context: WizardContext): WizardPlan {
  const manifest = requireManifest(context)
  const chosen = (context.controlPlane?.backups() ?? []).findLast((record) => !record.byRestore)
  if (!chosen)
    throw new UserError(
      `there is no backup of ${manifest} to restore (see kubectl imgsec patch-apiserver --list-backups)`,
    )
  const argv = ['patch-apiserver', '--manifest', manifest, `--restore=${chosen.backup}`]
  return {
    argv,
    commandLine: commandLine(argv),
    summary: [
      `put back ${chosen.backup}, taken ${chosen.time} by: ${chosen.command}`,
      `the current ${manifest} is backed up first`,
    ],
  }
}

/** Ask for a task and its values; returns what to run. */
export async function planWizard(prompt: Prompter, context: WizardContext): Promise<WizardPlan> {
  const task = await prompt.select<WizardTask>({
    message: 'What do you want to do?',
    choices: [
      {name: 'Create a pull secret for a private registry', value: 'create-regcred'},
      {name: 'Enforce a registry whitelist', value: 'whitelist-enable'},
      {name: 'Audit images', value: 'audit'},
      {name: 'Patch the API server manifest', value: 'patch-apiserver'},
      {name: 'Restore the API server manifest from a backup', value: 'restore'},
      {name: 'Show the whitelist status', value: 'status'},
    ],
  })
  switch (task) {
    case 'create-regcred':
      return createRegcredFlow(prompt, context)
    case 'whitelist-enable':
      return whitelistFlow(prompt, context)
    case 'audit':
      return auditFlow(prompt, context)
    case 'patch-apiserver':
      return patchFlow(prompt, context)
    case 'restore':
      return restoreFlow(context)
    case 'status':
      return {
        argv: ['whitelist', 'status'],
        commandLine: 'kubectl imgsec whitelist status',
        summary: ['show the whitelist status'],
      }
  }
}

/** The real prompts (inquirer), loaded only when the wizard runs. */
export async function inquirerPrompter(): Promise<Prompter> {
  const inquirer = await import('@inquirer/prompts')
  return {
    select: (q) => inquirer.select(q) as never,
    input: (q) => inquirer.input(q),
    password: (q) => inquirer.password({...q, mask: '*'}),
    confirm: (q) => inquirer.confirm(q),
  }
}

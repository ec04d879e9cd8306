import {existsSync} from 'node:fs'

import {UserError} from '../lib/errors.js'
import {dns1123LabelProblem, dns1123SubdomainProblem} from '../lib/names.js'
import {splitCommaList} from '../lib/comma-list.js'
import {patchFlow, restoreFlow} from './wizard-control-plane.js'
import {
  commandLine,
  orTrue,
  PASSWORD_ATTEMPTS,
  type Prompter,
  registryListProblem,
  requireManifest,
  required,
  type WizardContext,
  type WizardPlan,
  type WizardTask,
} from './wizard-common.js'
import {signatureStep} from './wizard-signatures.js'

export type {Prompter, WizardContext, WizardPlan, WizardTask} from './wizard-common.js'
export {confirmPlan, writeWizardFiles} from './wizard-common.js'

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
  const registries = splitCommaList(
    await prompt.input({
      message: 'Allowed registries (comma-separated)',
      default: 'docker.io,registry.k8s.io',
      validate: registryListProblem,
    }),
  )
  const argv = ['whitelist', 'enable', '--allowed-registries', registries.join(',')]
  if (mode === 'vap') argv.push('--mode', 'vap')
  // Only the backend can verify signatures: a ValidatingAdmissionPolicy is CEL and cannot read a registry.
  const signatures =
    mode === 'vap'
      ? {
          argv: [],
          summary: ['image signatures: not checked (a ValidatingAdmissionPolicy cannot verify them; the webhook can)'],
          files: [],
        }
      : await signatureStep(prompt, registries, context.fileDir)
  argv.push(...signatures.argv)
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
      ...signatures.summary,
      ...outage,
    ],
    files: signatures.files,
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

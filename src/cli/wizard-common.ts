// What the wizard's flows share: the prompts interface, what it knows of the cluster and the
// node, the plan it returns, and the command line it shows.
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {splitCommaList} from '../lib/comma-list.js'
import {describeSystemError} from '../lib/describe-error.js'
import {UserError} from '../lib/errors.js'
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
  /** Where the wizard writes the files a subcommand reads (a policy file): a fresh directory in it; default the OS temp directory. */
  fileDir?: string
  /** Ask the registry whether the credentials work: a problem, or undefined when they do. */
  checkLogin?: (server: string, username: string, password: string) => Promise<string | undefined>
}

/** How many times a refused password is asked again before the wizard gives up. */
export const PASSWORD_ATTEMPTS = 3

/** The control-plane tasks run on a control-plane node: say so before the first question. */
export function requireManifest(context: WizardContext): string {
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
  /** Files the subcommand reads (a policy file), written only once the user confirms; the summary names them. */
  files?: WizardFile[]
}

/** A file the wizard writes for the subcommand: 0600 in a directory of its own (0700) that must not exist yet. */
export interface WizardFile {
  path: string
  content: string
}

/**
 * Write the plan's files after "Run it?": a fresh directory each (mkdir fails if it exists, so a
 * name planted in a shared temp directory is never followed) and the file created, never replaced.
 */
export function writeWizardFiles(files: readonly WizardFile[]): void {
  for (const file of files) {
    try {
      mkdirSync(path.dirname(file.path), {mode: 0o700})
      writeFileSync(file.path, file.content, {mode: 0o600, flag: 'wx'})
    } catch (error) {
      throw new UserError(`cannot write ${file.path}: ${describeSystemError(error)}; nothing was changed`)
    }
  }
}

/**
 * Show the plan (summary, then the equivalent command line) and ask "Run it?". Yes writes the plan's
 * files and returns true; no says nothing was changed. The files exist only once confirmed, so "No"
 * and Ctrl-C leave nothing behind.
 */
export async function confirmPlan(
  prompt: Prompter,
  plan: WizardPlan,
  out: {write(text: string): unknown},
): Promise<boolean> {
  out.write(
    `\nAbout to:\n${plan.summary.map((line) => `  - ${line}\n`).join('')}\nThe same as:\n  ${plan.commandLine}\n\n`,
  )
  if (!(await prompt.confirm({message: 'Run it?', default: true}))) {
    out.write('Nothing was changed.\n')
    return false
  }
  writeWizardFiles(plan.files ?? [])
  return true
}

/** A comma list of registry patterns, checked as the policy checks allowedRegistries (for a prompt). */
export function registryListProblem(value: string): true | string {
  const entries = splitCommaList(value)
  if (entries.length === 0) return 'name at least one registry'
  const bad = entries.find((entry) => registryPatternProblem(entry))
  return bad ? `"${bad}": ${registryPatternProblem(bad)}` : true
}

export type WizardTask = 'create-regcred' | 'whitelist-enable' | 'audit' | 'patch-apiserver' | 'restore' | 'status'

export const required = (what: string) => (value: string) => (value.trim() === '' ? `${what} is required` : true)
export const orTrue = (problem: string | undefined) => problem ?? true
const shellQuote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`)

export function commandLine(argv: string[], secretFlags: Record<string, string> = {}): string {
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

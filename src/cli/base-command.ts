import {Command, Errors} from '@oclif/core'

import {describeFailure} from '../lib/describe-error.js'
import {isUserError, redact} from '../lib/errors.js'
import {closestName} from '../lib/suggest.js'
import {fillOptionalValue} from './flags.js'

/**
 * What every command shares: user mistakes become one `error: …` line and exit 1 without a
 * stack trace; --debug adds detail; anything the command registered as secret (a password given
 * on the command line or on stdin) is cut out of every message it prints.
 */
export abstract class BaseCommand extends Command {
  /** Flags whose values are secret: their argv values are redacted from every message. */
  static secretFlags: string[] = []

  /**
   * What a positional argument the command does not take was probably meant to be, e.g. for
   * audit images "to audit files, use -f examples". Undefined: no guess.
   */
  static unexpectedArgumentHint?: (arg: string) => string | undefined

  private readonly secretValues = new Set<string>()

  /** Redact `value` from everything this command prints from now on. */
  protected registerSecret(value: string | undefined): void {
    if (value) this.secretValues.add(value)
  }

  protected redact(text: string): string {
    return redact(text, this.secretValues)
  }

  protected get debugEnabled(): boolean {
    return this.argv.includes('--debug')
  }

  override async init(): Promise<void> {
    const secretFlags = (this.constructor as typeof BaseCommand).secretFlags
    // Collect secret flag values before parsing, so that even a parse error cannot echo them.
    for (const [index, arg] of this.argv.entries()) {
      for (const flag of secretFlags) {
        if (arg === `--${flag}`) this.registerSecret(this.argv[index + 1])
        else if (arg.startsWith(`--${flag}=`)) this.registerSecret(arg.slice(flag.length + 3))
      }
    }
    // kubectl takes a bare --dry-run as --dry-run=client, with a warning; so do we where --dry-run takes a value.
    const dryRun = (this.constructor as typeof Command).flags?.['dry-run'] as
      {type?: string; options?: readonly string[]} | undefined
    if (dryRun?.type === 'option' && this.argv.includes('--dry-run')) {
      const before = this.argv.length
      fillOptionalValue(this.argv, '--dry-run', 'client', dryRun.options)
      if (this.argv.length > before)
        process.stderr.write('warning: --dry-run is deprecated and can be replaced with --dry-run=client.\n')
    }
    await super.init()
  }

  /** Print one line to stderr, redacted. */
  protected printError(message: string): void {
    process.stderr.write(this.redact(`error: ${message}`) + '\n')
  }

  protected printDebug(message: string | undefined): void {
    if (message && this.debugEnabled) process.stderr.write(this.redact(`debug: ${message}`) + '\n')
  }

  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    if (error instanceof Errors.ExitError) throw error
    if (isUserError(error)) {
      this.printError(error.message)
      this.printDebug(error.detail)
      this.exit(error.exitCode)
    }
    if (error instanceof Errors.CLIError) {
      // Flag and argument mistakes: one line, with "did you mean" where we can tell, plus kubectl's hint line.
      const command = this.constructor as typeof BaseCommand
      this.printError(
        `${describeUsageError(error, command, commandName(this.id))}\nSee 'kubectl imgsec ${commandName(this.id)} --help' for usage.`,
      )
      this.exit(1)
    }
    const hasDebugFlag = 'debug' in ((this.constructor as typeof Command).flags ?? {})
    // Never a parser's own message: it quotes the input (a password, a token).
    const message = describeFailure(error)
    this.printError(`${message}${this.debugEnabled || !hasDebugFlag ? '' : ' (run again with --debug for details)'}`)
    this.printDebug(
      `${error.name}: ${message}\n${(error.stack ?? '')
        .split('\n')
        .filter((line) => /^\s+at /.test(line))
        .join('\n')}`,
    )
    this.exit(1)
  }
}

/** The command as typed: oclif's id `audit:images` is `audit images` on the command line. */
export function commandName(id: string | undefined): string {
  return (id ?? '').replaceAll(':', ' ')
}

/**
 * oclif's parse errors in kubectl's words, one line: unknown flags with a "did you mean",
 * arguments the command does not take (with the command's own hint), missing arguments and
 * values, values outside a flag's options. Anything else is oclif's text made one line.
 */
export function describeUsageError(error: Error, command: typeof BaseCommand, name: string): string {
  const text = describeParseError(error.message)
  const flags = (command.flags ?? {}) as Record<string, {char?: string; options?: readonly string[]}>
  const parsed = error as Error & {flags?: unknown; args?: unknown}
  if (/^Nonexistent flags?:/.test(text) && Array.isArray(parsed.flags)) {
    // kubectl names the flag, never its value (`--docker-passwrd=…` would print a password).
    const given = parsed.flags.map((flag) => String(flag).split('=')[0])
    const first = given[0] ?? ''
    if (/^-[^-]/.test(first)) return `unknown shorthand flag: '${first.slice(1, 2)}' in ${first}`
    const guess = closestName(first.replace(/^--/, '').split('=')[0], [...Object.keys(flags), 'help'])
    const more = given.length > 1 ? ` (and ${given.slice(1).join(', ')})` : ''
    return `unknown flag: ${first}${more}${guess ? `; did you mean --${guess}?` : ''}`
  }
  if (/^Unexpected arguments?:/.test(text) && Array.isArray(parsed.args)) {
    const arg = String(parsed.args[0])
    const names = Object.keys(command.args ?? {}).map((a) => a.toUpperCase())
    const takes =
      names.length === 0
        ? 'takes no arguments'
        : `takes ${names.length === 1 ? 'one argument' : `${names.length} arguments`}, ${names.join(' ')}`
    const hint = command.unexpectedArgumentHint?.(arg)
    // A stray word on a command with secret flags may be a password typed without its flag: not repeated.
    const shown = command.secretFlags.length > 0 ? 'an unexpected extra argument' : `unexpected argument "${arg}"`
    return `${shown}: ${name} ${takes}${hint ? `; ${hint}` : ''}`
  }
  if (/^Missing \d+ required args?/.test(text) && Array.isArray(parsed.args)) {
    const missing = parsed.args as Array<{name?: string; description?: string}>
    return `missing argument ${missing.map((a) => `${(a.name ?? '').toUpperCase()}${a.description ? ` (${a.description.replace(/\.$/, '')})` : ''}`).join(', ')}`
  }
  let match = /^Expected --([\w-]+)=(.*) to be one of: (.*)$/s.exec(text)
  if (match) {
    const [, flag, value, options] = match
    const guess = closestName(value, options.split(', '))
    return `invalid value "${value}" for --${flag}: one of ${options}${guess ? `; did you mean "${guess}"?` : ''}`
  }
  match = /^Flag --([\w-]+) expects (?:a value|one of these values: (.*))$/.exec(text)
  if (match) {
    const char = flags[match[1]]?.char
    return `flag needs an argument: --${match[1]}${char ? ` (-${char})` : ''}${match[2] ? ` (one of ${match[2]})` : ''}`
  }
  match = /^Parsing --([\w-]+): (.*)$/.exec(text)
  if (match) return `invalid value for --${match[1]}: ${match[2].charAt(0).toLowerCase()}${match[2].slice(1)}`
  return text
}

/** oclif's parse errors span several lines ("The following error occurred:\n  --a cannot …"); make them one. */
export function describeParseError(message: string): string {
  // eslint-disable-next-line no-control-regex -- oclif colours parts of the message on a TTY
  const text = message.replace(/\u001B\[[0-9;]*m/g, '').replace(/\n+See more help with --help\s*$/, '')
  const [first = '', ...rest] = text
    .split('\n')
    .map((line) => line.trim().replace(/\s{2,}/g, ' '))
    .filter(Boolean)
  if (rest.length === 0) return first
  if (/^The following errors? occurred:$/.test(first)) return rest.join('; ')
  return `${first.replace(/:$/, '')}: ${rest.join('; ')}`
}

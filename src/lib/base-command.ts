import {Command, Errors} from '@oclif/core'

import {safeErrorMessage} from './describe-error.js'
import {isUserError, redact} from './errors.js'

/**
 * What every command shares: user mistakes become one `error: …` line and exit 1 without a
 * stack trace; --debug adds detail; anything the command registered as secret (a password given
 * on the command line or on stdin) is cut out of every message it prints.
 */
export abstract class BaseCommand extends Command {
  /** Flags whose values are secret: their argv values are redacted from every message. */
  static secretFlags: string[] = []

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
      // Flag parsing mistakes (unknown flag, missing value, bad option): one line plus where to look.
      this.printError(`${describeParseError(error.message)}\nSee 'kubectl imgsec ${this.id ?? ''} --help'.`)
      this.exit(1)
    }
    const hasDebugFlag = 'debug' in ((this.constructor as typeof Command).flags ?? {})
    // Never a parser's own message: it quotes the input (a password, a token).
    const message = safeErrorMessage(error)
    this.printError(`${message}${this.debugEnabled || !hasDebugFlag ? '' : ' (run again with --debug for details)'}`)
    this.printDebug(`${error.name}: ${message}\n${(error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line)).join('\n')}`)
    this.exit(1)
  }
}

/** oclif's parse errors span several lines ("The following error occurred:\n  --a cannot …"); make them one. */
export function describeParseError(message: string): string {
  // eslint-disable-next-line no-control-regex -- oclif colours parts of the message on a TTY
  const text = message.replace(/\u001B\[[0-9;]*m/g, '').replace(/\n+See more help with --help\s*$/, '')
  const [first = '', ...rest] = text.split('\n').map((line) => line.trim().replace(/\s{2,}/g, ' ')).filter(Boolean)
  if (rest.length === 0) return first
  if (/^The following errors? occurred:$/.test(first)) return rest.join('; ')
  return `${first.replace(/:$/, '')}: ${rest.join('; ')}`
}

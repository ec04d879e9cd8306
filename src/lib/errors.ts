/**
 * The one error type for mistakes a user can fix: a bad flag, a missing file, an object that
 * already exists, a refused permission. Commands print its message as one line and exit 1
 * (or `exitCode`), never a stack trace. Messages must never contain a secret.
 */
export class UserError extends Error {
  readonly exitCode: number
  /** Extra lines shown only with --debug (never secrets). */
  readonly detail?: string

  constructor(message: string, options: {exitCode?: number; detail?: string; cause?: unknown} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'UserError'
    this.exitCode = options.exitCode ?? 1
    this.detail = options.detail
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError
}

/** Replace every occurrence of each secret in `text` with a placeholder. */
export function redact(text: string, secrets: Iterable<string | undefined>): string {
  let result = text
  for (const secret of secrets) {
    // Very short values would blank out ordinary words; they are kept out of messages at the source.
    if (!secret || secret.length < 4) continue
    result = result.split(secret).join('<redacted>')
    const b64 = Buffer.from(secret).toString('base64')
    if (b64.length >= 8) result = result.split(b64).join('<redacted>')
  }
  return result
}

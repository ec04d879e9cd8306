import {UserError} from '../lib/errors.js'

/** Read a secret from standard input as `docker login --password-stdin` does: all of it, minus one trailing newline. */
export async function readPasswordFromStdin(stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (stdin.isTTY) {
    throw new UserError(
      '--password-stdin reads the password from a pipe or file, e.g. printf \'%s\' "$PASSWORD" | kubectl imgsec create-regcred …',
    )
  }
  const chunks: Buffer[] = []
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '')
  if (password === '') throw new UserError('--password-stdin: standard input was empty')
  return password
}

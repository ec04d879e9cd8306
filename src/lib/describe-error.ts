/**
 * System and library errors in words. Node's messages carry codes ("ENOENT: no such file or
 * directory, open '/x'", "error:0480006C:PEM routines::no start line") and parsers' messages quote
 * the input they choked on, which may be a password or a token. Everything a user reads goes
 * through here instead: it names the problem, never the content.
 */

const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the path is too long',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files on this machine',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EBUSY: 'the file is busy',
  EEXIST: 'it already exists',
  EIO: 'input/output error',
  EINVAL: 'invalid argument',
  EADDRINUSE: 'the address is already in use (another process listens there)',
  EADDRNOTAVAIL: 'the address does not belong to this machine',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'timed out',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name not found (temporary DNS failure)',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
}

/** The errno-style code of an error, if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as {code?: unknown} | undefined)?.code
  return typeof code === 'string' ? code : undefined
}

/** A system error in words ("no such file or directory"), never the error's own message. */
export function describeSystemError(error: unknown): string {
  const code = errorCode(error)
  if (code && ERRNO_WORDS[code]) return ERRNO_WORDS[code]
  return code ? `failed (${code})` : 'failed'
}

/** `<what> <file> cannot be read: <why>`, e.g. `--cert /x.crt cannot be read: no such file or directory`. */
export function unreadableFile(what: string, file: string, error: unknown): string {
  const hint = errorCode(error) === 'EACCES' ? ' (run as a user that may read it, e.g. root on a control-plane node)' : ''
  return `${what} ${file} cannot be read: ${describeSystemError(error)}${hint}`
}

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
  const hint =
    errorCode(error) === 'EACCES' ? ' (run as a user that may read it, e.g. root on a control-plane node)' : ''
  return `${what} ${file} cannot be read: ${describeSystemError(error)}${hint}`
}

/** A value read from a file, described by its kind: numbers and booleans as they are, text never. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty'
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string'
  if (Array.isArray(value)) return 'a list'
  if (value instanceof Date) return 'a date'
  if (typeof value === 'object') return 'a mapping'
  return `a ${typeof value}`
}

const YAML_WORDS: Record<string, string> = {
  ALIAS_PROPS: 'an alias (*name) cannot carry a tag or an anchor',
  BAD_ALIAS: 'an alias (*name) refers to no anchor defined before it',
  BAD_DIRECTIVE: 'an invalid % directive',
  BAD_DQ_ESCAPE: 'an invalid \\ escape in a double-quoted string',
  BAD_INDENT: 'bad indentation (or an unclosed [ or {)',
  BAD_PROP_ORDER: 'an anchor or tag in the wrong place',
  BAD_SCALAR_START: 'a value starts with a reserved character (@ or `); quote it',
  BLOCK_AS_IMPLICIT_KEY: 'a nested mapping on one line (a second ": "); quote the value',
  BLOCK_IN_FLOW: 'a block value inside [ ] or { }',
  DUPLICATE_KEY: 'a key appears twice in the same mapping',
  KEY_OVER_1024_CHARS: 'a key longer than 1024 characters',
  MISSING_CHAR: 'a missing character (a closing quote or bracket, a comma, or ": ")',
  MULTILINE_IMPLICIT_KEY: 'a key spans several lines (a missing ": "?)',
  MULTIPLE_ANCHORS: 'several anchors on one value',
  MULTIPLE_DOCS: 'several documents where one is expected',
  MULTIPLE_TAGS: 'several tags on one value',
  NON_STRING_KEY: 'a key that is not a string',
  RESOURCE_EXHAUSTION: 'too many alias expansions',
  TAB_AS_INDENT: 'a tab used for indentation (YAML indents with spaces)',
  TAG_RESOLVE_FAILED: 'an unknown tag (a value starting with !); quote the value',
  UNEXPECTED_TOKEN: 'unexpected text',
  BAD_COLLECTION_TYPE: 'a tag that does not fit its value',
}

/**
 * A YAML parser error (or the error toJS throws) in words, with its position when known:
 * `line 3, column 7: a key appears twice in the same mapping`. The parser's own message quotes
 * the offending text (a tag, an alias, an escape, the whole line), so it is never used.
 */
export function yamlProblem(error: unknown): string {
  const candidate = error as
    {code?: unknown; linePos?: Array<{line: number; col: number}>; message?: unknown} | undefined
  const where = candidate?.linePos?.[0]
  const position = where ? `line ${where.line}, column ${where.col}: ` : ''
  const code = typeof candidate?.code === 'string' ? candidate.code : undefined
  if (code && YAML_WORDS[code]) return `${position}${YAML_WORDS[code]}`
  // Errors toJS throws carry no code: say which kind of problem, not the name they quote.
  const message = typeof candidate?.message === 'string' ? candidate.message : ''
  if (/^Unresolved alias/.test(message)) return `${position}${YAML_WORDS.BAD_ALIAS}`
  if (/alias count|Excessive alias/i.test(message)) return `${position}${YAML_WORDS.RESOURCE_EXHAUSTION}`
  return `${position}not valid YAML`
}

/**
 * Where and why `text` is not JSON, found by a scan of our own: JSON.parse's message quotes the
 * text ("Unexpected token 'T', "TopSecret99" is not valid JSON"). Undefined when the scan finds
 * nothing wrong (JSON.parse then failed for a reason the scan does not know, e.g. nesting depth).
 */
export function jsonProblem(text: string): {line: number; column: number; problem: string} | undefined {
  let pos = 0
  const fail = (problem: string, at = pos) => {
    const before = text.slice(0, at)
    const line = before.split('\n').length
    return {line, column: at - before.lastIndexOf('\n'), problem}
  }
  const skipSpace = () => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos])) pos++
  }
  type Problem = ReturnType<typeof fail>
  const string = (): Problem | undefined => {
    pos++ // the opening quote
    while (pos < text.length) {
      const c = text[pos]
      if (c === '"') {
        pos++
        return undefined
      }
      if (c === '\\') {
        const next = text[pos + 1]
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) return fail('an invalid \\u escape in a string')
          pos += 6
        } else if (next !== undefined && '"\\/bfnrt'.includes(next)) pos += 2
        else return fail('an invalid \\ escape in a string')
        continue
      }
      if (c < ' ')
        return fail(
          c === '\n' ? 'a string is not closed before the end of the line' : 'a control character inside a string',
        )
      pos++
    }
    return fail('a string is not closed before the end of the file')
  }
  const number = (): Problem | undefined => {
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(pos, pos + 400))
    if (!match) return fail('an invalid number')
    pos += match[0].length
    return undefined
  }
  const value = (depth: number): Problem | undefined => {
    if (depth > 1000) return fail('nested more than 1000 levels deep')
    skipSpace()
    if (pos >= text.length) return fail('the file ends where a value is expected')
    const c = text[pos]
    if (c === '{') {
      pos++
      skipSpace()
      if (text[pos] === '}') {
        pos++
        return undefined
      }
      for (;;) {
        skipSpace()
        if (pos >= text.length) return fail('the file ends inside an object (a missing "}")')
        if (text[pos] !== '"') return fail(text[pos] === '}' ? 'a comma before "}"' : 'expected a "quoted" key')
        const key = string()
        if (key) return key
        skipSpace()
        if (text[pos] !== ':')
          return fail(
            pos >= text.length ? 'the file ends inside an object (a missing "}")' : 'expected ":" after a key',
          )
        pos++
        const inner = value(depth + 1)
        if (inner) return inner
        skipSpace()
        if (text[pos] === ',') {
          pos++
          continue
        }
        if (text[pos] === '}') {
          pos++
          return undefined
        }
        return fail(pos >= text.length ? 'the file ends inside an object (a missing "}")' : 'expected "," or "}"')
      }
    }
    if (c === '[') {
      pos++
      skipSpace()
      if (text[pos] === ']') {
        pos++
        return undefined
      }
      for (;;) {
        skipSpace()
        if (text[pos] === ']') return fail('a comma before "]"')
        const inner = value(depth + 1)
        if (inner) return inner
        skipSpace()
        if (text[pos] === ',') {
          pos++
          continue
        }
        if (text[pos] === ']') {
          pos++
          return undefined
        }
        return fail(pos >= text.length ? 'the file ends inside a list (a missing "]")' : 'expected "," or "]"')
      }
    }
    if (c === '"') return string()
    if (c === '-' || (c >= '0' && c <= '9')) return number()
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, pos)) {
        pos += word.length
        return undefined
      }
    }
    if (c === "'") return fail('a single-quoted string (JSON needs double quotes)')
    if (c === '\uFEFF') return fail('a byte-order mark before the JSON')
    return fail('expected a JSON value (an object, a list, a "string", a number, true, false or null)')
  }
  const problem = value(0)
  if (problem) return problem
  skipSpace()
  if (pos < text.length) return fail('more text after the end of the JSON value')
  return undefined
}

/** `line 1, column 1: expected a JSON value …` for text JSON.parse refused, never quoting it. */
export function describeJsonSyntax(text: string): string {
  const found = jsonProblem(text)
  return found ? `line ${found.line}, column ${found.column}: ${found.problem}` : 'not valid JSON'
}

/**
 * The first line of an unexpected error's message, unless it may quote input: a JSON or YAML
 * parser's message (or an unresolved alias) is replaced by what kind of failure it was.
 */
export function safeErrorMessage(error: unknown): string {
  if (error instanceof SyntaxError) return 'input that is not valid JSON'
  const candidate = error as {name?: unknown; message?: unknown}
  if (
    candidate?.name === 'YAMLParseError' ||
    candidate?.name === 'YAMLWarning' ||
    (error instanceof ReferenceError && /alias/i.test(String(candidate.message)))
  ) {
    return `input that is not valid YAML (${yamlProblem(error)})`
  }
  const message = typeof candidate?.message === 'string' ? candidate.message : String(error)
  return message.split('\n')[0]
}

/**
 * Any failure in words for a line a user reads: a system error's code as words ("connection
 * refused", "/x: no such file or directory", never "ECONNREFUSED" or Node's "ENOENT: no such file
 * or directory, open '/x'"), a TLS
 * failure by its kind, a timeout as such, else the first line of a message that cannot quote input.
 */
export function describeFailure(error: unknown): string {
  let code: string | undefined
  let current = error as {code?: unknown; cause?: unknown; name?: unknown} | undefined
  for (let depth = 0; current && depth < 5 && !code; depth++) {
    if (typeof current.code === 'string') code = current.code
    else current = current.cause as typeof current
  }
  if (code && ERRNO_WORDS[code]) {
    const file = (error as {path?: unknown}).path
    return typeof file === 'string' ? `${file}: ${ERRNO_WORDS[code]}` : ERRNO_WORDS[code]
  }
  if (code && /CERT|SELF_SIGNED|UNABLE_TO|^ERR_TLS|^ERR_SSL|^EPROTO$/.test(code))
    return `TLS verification failed (${code})`
  const name = (error as {name?: unknown} | undefined)?.name
  if (name === 'AbortError' || name === 'TimeoutError') return 'timed out'
  if (code && /^E[A-Z]+$/.test(code)) return `failed (${code})`
  return safeErrorMessage(error)
}

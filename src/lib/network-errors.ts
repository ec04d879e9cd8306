// Network failures (connect, DNS, TLS) described in one line, for every client: the Kubernetes API,
// registries, the webhook backend. Only codes and URLs: never a response body.

const TLS_ERROR_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
])

/** The errno-style code of a network failure, looking through fetch's wrappers. */
export function networkErrorCode(error: unknown): string | undefined {
  let current = error as {code?: unknown; errno?: unknown; cause?: unknown} | undefined
  for (let depth = 0; current && depth < 5; depth++) {
    if (typeof current.code === 'string') return current.code
    if (typeof current.errno === 'string') return current.errno
    current = current.cause as typeof current
  }
  return undefined
}

/** Describe a network failure towards `url` in one line, or undefined when it is not one. */
export function describeNetworkError(error: unknown, url: string, what: string): string | undefined {
  const code = networkErrorCode(error)
  if (!code) return undefined
  if (code === 'ECONNREFUSED') return `cannot connect to ${what} at ${url}: connection refused`
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot connect to ${what} at ${url}: host name not found`
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT')
    return `cannot connect to ${what} at ${url}: connection timed out`
  if (code === 'ECONNRESET' || code === 'EPIPE') return `connection to ${what} at ${url} was reset`
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `cannot connect to ${what} at ${url}: no route to host`
  if (code.startsWith('ERR_OSSL')) {
    // OpenSSL could not read a certificate or key we were given (a kubeconfig's, a --ca-file): never the bytes.
    return `cannot set up TLS to ${what} at ${url}: a certificate or key given for it is not valid PEM (${code})`
  }
  if (TLS_ERROR_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL')) {
    return `TLS verification of ${what} at ${url} failed (${code})`
  }
  return `request to ${what} at ${url} failed (${code})`
}

/** True for the failure of a request that ran out of time (fetch's AbortError, a socket timeout). */
export function isTimeout(error: unknown): boolean {
  const name = (error as {name?: unknown})?.name
  const type = (error as {type?: unknown})?.type
  return name === 'AbortError' || name === 'TimeoutError' || type === 'aborted' || type === 'request-timeout'
}

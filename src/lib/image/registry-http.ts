// The HTTP layer of registry requests: TLS settings, one deadline per exchange, a bounded body,
// and failures described in one line (never the body: it may echo what was sent).
import http from 'node:http'
import https from 'node:https'

import {UserError} from '../errors.js'
import {readCaBundle} from '../pem.js'
import {describeNetworkError, isTimeout, networkErrorCode} from '../network-errors.js'

export interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** TLS and timeout settings for talking to a registry. */
export interface RegistryConnection {
  caFile?: string
  insecureSkipTlsVerify?: boolean
  /** How long the whole exchange (ping, token, request) may take; 0: no limit. Default 15 s. */
  timeoutMs?: number
  /** Set once per exchange from timeoutMs: when it must be over (epoch ms). */
  deadline?: number
}

const DEFAULT_REGISTRY_TIMEOUT_MS = 15_000

/** The connection with its deadline fixed now, so every request of one exchange shares it. */
export function withDeadline<T extends RegistryConnection>(connection: T): T {
  const timeoutMs = connection.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS
  return connection.deadline !== undefined || timeoutMs <= 0
    ? connection
    : {...connection, deadline: Date.now() + timeoutMs}
}

export function request(
  url: URL,
  options: RegistryConnection & {headers?: Record<string, string>; method?: string},
): Promise<HttpResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS
  const remaining = options.deadline === undefined ? undefined : options.deadline - Date.now()
  if (remaining !== undefined && remaining <= 0)
    return Promise.reject(Object.assign(new Error('deadline passed'), {name: 'AbortError'}))
  let ca: Buffer | undefined
  if (options.caFile) {
    try {
      ca = readCaBundle('--ca-file', options.caFile)
    } catch (error) {
      return Promise.reject(error)
    }
  }
  return new Promise((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http
    const req = transport.request(
      url,
      {
        method: options.method ?? 'GET',
        headers: {'user-agent': 'kubectl-imgsec', ...options.headers},
        ca,
        rejectUnauthorized: !options.insecureSkipTlsVerify,
        // Inactivity (connect, handshake, a stalled body) and, through the signal, the whole exchange.
        timeout: timeoutMs > 0 ? timeoutMs : undefined,
        signal: remaining === undefined ? undefined : AbortSignal.timeout(remaining),
      },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          // Only small JSON bodies are expected (errors, tokens); never hold more than 1 MiB.
          size += chunk.length
          if (size <= 1024 * 1024) chunks.push(chunk)
        })
        res.on('end', () =>
          resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8')}),
        )
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), {code: 'ETIMEDOUT'})))
    req.on('error', reject)
    req.end()
  })
}

export async function fetchRegistry(
  url: URL,
  options: RegistryConnection,
  what: string,
  headers?: Record<string, string>,
  method?: string,
  unreachableHint = '',
): Promise<HttpResponse> {
  try {
    return await request(url, {...options, headers, method})
  } catch (error) {
    if (error instanceof UserError) throw error
    if (isTimeout(error)) {
      const limit = options.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS
      throw new UserError(
        `${what} at ${url.origin} did not answer within ${limit / 1000}s (--request-timeout)${unreachableHint}`,
        {cause: error},
      )
    }
    // Never the error's own message: it may quote what was sent or received.
    const line = describeNetworkError(error, url.origin, what) ?? `request to ${what} at ${url.origin} failed`
    const code = networkErrorCode(error) ?? ''
    let hint = unreachableHint
    if (/CERT|SELF_SIGNED|ALTNAME|UNABLE_TO/.test(code))
      hint = `; pass the registry CA with --ca-file${unreachableHint.includes('--no-verify') ? ', or skip the check with --no-verify' : ''}`
    else if (code === 'EPROTO' || code.startsWith('ERR_SSL'))
      hint = `; if the registry speaks plain HTTP, use http://${url.host}`
    throw new UserError(line + hint, {cause: error})
  }
}

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
  /** The body's bytes (up to the limit), for content whose digest is checked. */
  bytes: Buffer
}

/** TLS and timeout settings for talking to a registry. */
export interface RegistryConnection {
  caFile?: string
  insecureSkipTlsVerify?: boolean
  /** How long the whole exchange (ping, token, request) may take; 0: no limit. Default 15 s. */
  timeoutMs?: number
  /** Set once per exchange from timeoutMs: when it must be over (epoch ms). */
  deadline?: number
  /** The flag that sets timeoutMs, named when it runs out (default --request-timeout). */
  timeoutFlag?: string
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
          // Only small bodies are expected (errors, tokens, manifests, signature payloads); never hold more than 1 MiB.
          size += chunk.length
          if (size <= 1024 * 1024) chunks.push(chunk)
        })
        res.on('end', () => {
          const bytes = Buffer.concat(chunks)
          resolve({status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString('utf8'), bytes})
        })
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
        `${what} at ${url.origin} did not answer within ${limit / 1000}s (${options.timeoutFlag ?? '--request-timeout'})${unreachableHint}`,
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

export interface StreamResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: http.IncomingMessage
}

/**
 * GET a blob as a stream (layers are never held in memory). Only inactivity is bounded (a layer
 * may take long); redirects to blob storage are followed, without our Authorization header when
 * they leave the registry's host.
 */
export async function openStream(
  url: URL,
  options: RegistryConnection & {headers?: Record<string, string>},
  redirects = 5,
): Promise<StreamResponse> {
  const ca = options.caFile ? readCaBundle('--ca-file', options.caFile) : undefined
  const timeoutMs = options.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http
    const req = transport.get(
      url,
      {
        headers: {'user-agent': 'kubectl-imgsec', ...options.headers},
        ca,
        rejectUnauthorized: !options.insecureSkipTlsVerify,
        timeout: timeoutMs > 0 ? timeoutMs : undefined,
      },
      resolve,
    )
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), {code: 'ETIMEDOUT'})))
    req.on('error', reject)
  })
  const location = response.headers.location
  if (response.statusCode && response.statusCode >= 300 && response.statusCode < 400 && location && redirects > 0) {
    response.resume()
    const next = new URL(location, url)
    const headers = {...options.headers}
    if (next.host !== url.host) delete headers.authorization
    return openStream(next, {...options, headers}, redirects - 1)
  }
  return {status: response.statusCode ?? 0, headers: response.headers, body: response}
}

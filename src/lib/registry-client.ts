import {readFileSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import {isIP} from 'node:net'

import {UserError} from './errors.js'
import {describeNetworkError, networkErrorCode} from './kube-client.js'

export interface RegistryLoginOptions {
  server: string
  username: string
  password: string
  caFile?: string
  insecureSkipTlsVerify?: boolean
  timeoutMs?: number
}

export interface RegistryLoginResult {
  /** The /v2/ endpoint that was checked. */
  endpoint: string
  /** How the registry authenticated us. */
  method: 'basic' | 'bearer' | 'none'
}

interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/**
 * The registry API base for a docker-server value. Docker Hub's legacy index URL (kubectl's
 * default) is served by registry-1.docker.io; a value without a scheme means https, as in
 * `docker login`.
 */
export function registryEndpoint(server: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `https://${server}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new UserError(`--docker-server "${server}" is not a registry host or URL (e.g. registry.example.com:5000)`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UserError(`--docker-server "${server}": only http and https registries can be verified`)
  }
  if (['index.docker.io', 'docker.io', 'registry-1.docker.io'].includes(url.hostname)) {
    return new URL('https://registry-1.docker.io/v2/')
  }
  return new URL(`${url.protocol}//${url.host}/v2/`)
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '')
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'))
}

function request(url: URL, options: RegistryLoginOptions & {headers?: Record<string, string>}): Promise<HttpResponse> {
  const timeoutMs = options.timeoutMs ?? 15_000
  return new Promise((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http
    const req = transport.request(url, {
      method: 'GET',
      headers: {'user-agent': 'kubectl-imgsec', ...options.headers},
      ca: options.caFile ? readFileSync(options.caFile) : undefined,
      rejectUnauthorized: !options.insecureSkipTlsVerify,
      timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        // Only small JSON bodies are expected (errors, tokens); never hold more than 1 MiB.
        size += chunk.length
        if (size <= 1024 * 1024) chunks.push(chunk)
      })
      res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8')}))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), {code: 'ETIMEDOUT'})))
    req.on('error', reject)
    req.end()
  })
}

/** Parse `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (RFC 7235 auth-params). */
export function parseAuthenticateHeader(header: string): {scheme: string; params: Record<string, string>} {
  const match = /^\s*(\S+)\s*(.*)$/.exec(header)
  const params: Record<string, string> = {}
  if (!match) return {scheme: '', params}
  const pattern = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g
  for (const param of match[2].matchAll(pattern)) {
    params[param[1].toLowerCase()] = param[2] === undefined ? param[3] : param[2].replace(/\\(.)/g, '$1')
  }
  return {scheme: match[1].toLowerCase(), params}
}

async function fetchRegistry(url: URL, options: RegistryLoginOptions, what: string, headers?: Record<string, string>): Promise<HttpResponse> {
  try {
    return await request(url, {...options, headers})
  } catch (error) {
    const line = describeNetworkError(error, url.origin, what) ?? `request to ${what} at ${url.origin} failed: ${(error as Error).message}`
    const code = networkErrorCode(error) ?? ''
    let hint = ''
    if (/CERT|SELF_SIGNED|ALTNAME|UNABLE_TO/.test(code)) hint = '; pass the registry CA with --ca-file, or skip the check with --no-verify'
    else if (code === 'EPROTO' || code.startsWith('ERR_SSL')) hint = `; if the registry speaks plain HTTP, use --docker-server http://${url.host}`
    else hint = '; check --docker-server, or skip the check with --no-verify'
    throw new UserError(line + hint, {cause: error})
  }
}

function rejected(options: RegistryLoginOptions, endpoint: URL, status: number): UserError {
  return new UserError(`registry ${endpoint.host} rejected username "${options.username}" and the password (HTTP ${status} from ${endpoint.origin}); check them, nothing was created`)
}

/**
 * Log in as `docker login` does (Docker Registry v2 auth): GET /v2/ unauthenticated; on 401 the
 * WWW-Authenticate challenge says Basic (send the credentials to /v2/) or Bearer (get a token from
 * the realm with the credentials, then present it to /v2/).
 */
export async function verifyRegistryLogin(options: RegistryLoginOptions): Promise<RegistryLoginResult> {
  let endpoint = registryEndpoint(options.server)
  const explicitScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(options.server)
  let probe: HttpResponse
  try {
    probe = await fetchRegistry(endpoint, options, 'the registry')
  } catch (error) {
    // Docker treats 127.0.0.0/8 as an insecure registry: without a scheme it retries over plain HTTP.
    const code = networkErrorCode((error as UserError).cause) ?? ''
    if (explicitScheme || !isLoopback(endpoint.hostname) || !(code === 'EPROTO' || code.startsWith('ERR_SSL'))) throw error
    endpoint = new URL(`http://${endpoint.host}/v2/`)
    probe = await fetchRegistry(endpoint, options, 'the registry')
  }
  if (probe.status === 200) return {endpoint: endpoint.href, method: 'none'}
  if (probe.status !== 401) {
    throw new UserError(`${endpoint.href} answered HTTP ${probe.status}, not a Docker Registry v2 API; check --docker-server`)
  }
  const challenge = parseAuthenticateHeader(String(probe.headers['www-authenticate'] ?? ''))
  const basic = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`
  if (challenge.scheme === 'basic') {
    const answer = await fetchRegistry(endpoint, options, 'the registry', {authorization: basic})
    if (answer.status === 200) return {endpoint: endpoint.href, method: 'basic'}
    if (answer.status === 401 || answer.status === 403) throw rejected(options, endpoint, answer.status)
    throw new UserError(`registry ${endpoint.host} answered HTTP ${answer.status} to the login; check --docker-server`)
  }
  if (challenge.scheme === 'bearer') {
    const realm = challenge.params.realm
    if (!realm) throw new UserError(`registry ${endpoint.host} asked for a bearer token but named no realm`)
    let tokenUrl: URL
    try {
      tokenUrl = new URL(realm)
    } catch {
      throw new UserError(`registry ${endpoint.host} named an invalid token realm "${realm}"`)
    }
    if (challenge.params.service) tokenUrl.searchParams.set('service', challenge.params.service)
    tokenUrl.searchParams.set('account', options.username)
    tokenUrl.searchParams.set('client_id', 'kubectl-imgsec')
    const tokenAnswer = await fetchRegistry(tokenUrl, options, 'the registry token service', {authorization: basic})
    if (tokenAnswer.status === 401 || tokenAnswer.status === 403) throw rejected(options, endpoint, tokenAnswer.status)
    if (tokenAnswer.status !== 200) {
      throw new UserError(`the token service of registry ${endpoint.host} (${tokenUrl.origin}) answered HTTP ${tokenAnswer.status}`)
    }
    let token: string | undefined
    try {
      const body = JSON.parse(tokenAnswer.body) as {token?: string; access_token?: string}
      token = body.token ?? body.access_token
    } catch {}
    if (!token) throw new UserError(`the token service of registry ${endpoint.host} returned no token`)
    const answer = await fetchRegistry(endpoint, options, 'the registry', {authorization: `Bearer ${token}`})
    if (answer.status === 200) return {endpoint: endpoint.href, method: 'bearer'}
    if (answer.status === 401 || answer.status === 403) throw rejected(options, endpoint, answer.status)
    throw new UserError(`registry ${endpoint.host} answered HTTP ${answer.status} to the token login`)
  }
  throw new UserError(`registry ${endpoint.host} asked for an unsupported authentication scheme "${challenge.scheme || 'none'}"`)
}

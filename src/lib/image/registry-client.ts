import {isIP} from 'node:net'

import {UserError} from '../errors.js'
import {networkErrorCode} from '../network-errors.js'
import {fetchRegistry, type HttpResponse, type RegistryConnection, request, withDeadline} from './registry-http.js'

export type {RegistryConnection} from './registry-http.js'

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

export interface RegistryCredentials {
  username: string
  password: string
}

export interface AuthorizedResponse {
  response: HttpResponse
  /** How we were let in, or where we were refused. */
  method: 'basic' | 'bearer' | 'none'
  /** Set when the token service refused the credentials. */
  tokenStatus?: number
  /** The Authorization header that let us in, for further requests in the same repository. Never printed. */
  authorization?: string
}

/**
 * One request with the Docker Registry v2 auth dance: try anonymously; on 401 follow the
 * WWW-Authenticate challenge — Basic: resend with the credentials; Bearer: get a token from the
 * realm (with the credentials when we have them, anonymously otherwise) for the challenge's
 * scope, then resend with it.
 */
export async function authorizedRequest(
  url: URL,
  connection: RegistryConnection & {unreachableHint?: string},
  credentials: RegistryCredentials | undefined,
  options: {method?: string; accept?: string; scope?: string} = {},
): Promise<AuthorizedResponse> {
  const headers: Record<string, string> = options.accept ? {accept: options.accept} : {}
  const hint = connection.unreachableHint
  const first = await fetchRegistry(url, connection, 'the registry', headers, options.method, hint)
  if (first.status !== 401) return {response: first, method: 'none'}
  const challenge = parseAuthenticateHeader(String(first.headers['www-authenticate'] ?? ''))
  const basic = credentials
    ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
    : undefined
  if (challenge.scheme === 'basic') {
    if (!basic) return {response: first, method: 'basic'}
    return {
      response: await fetchRegistry(
        url,
        connection,
        'the registry',
        {...headers, authorization: basic},
        options.method,
        hint,
      ),
      method: 'basic',
      authorization: basic,
    }
  }
  if (challenge.scheme !== 'bearer') {
    // The header is the registry's text and is not repeated.
    throw new UserError(
      `registry ${url.host} asked for an authentication scheme other than Basic and Bearer (its WWW-Authenticate header); it cannot be checked, pass --no-verify`,
    )
  }
  const realm = challenge.params.realm
  let tokenUrl: URL
  try {
    tokenUrl = new URL(realm ?? '')
  } catch {
    throw new UserError(`registry ${url.host} asked for a bearer token but named no valid realm`)
  }
  if (challenge.params.service) tokenUrl.searchParams.set('service', challenge.params.service)
  const scope = challenge.params.scope ?? options.scope
  if (scope) tokenUrl.searchParams.set('scope', scope)
  if (credentials) tokenUrl.searchParams.set('account', credentials.username)
  tokenUrl.searchParams.set('client_id', 'kubectl-imgsec')
  const tokenAnswer = await fetchRegistry(
    tokenUrl,
    connection,
    'the registry token service',
    basic ? {authorization: basic} : {},
    'GET',
    hint,
  )
  if (tokenAnswer.status !== 200) return {response: tokenAnswer, method: 'bearer', tokenStatus: tokenAnswer.status}
  let token: string | undefined
  try {
    const body = JSON.parse(tokenAnswer.body) as {token?: string; access_token?: string}
    token = body.token ?? body.access_token
  } catch {}
  if (!token) throw new UserError(`the token service of registry ${url.host} (${tokenUrl.origin}) returned no token`)
  const bearer = `Bearer ${token}`
  return {
    response: await fetchRegistry(
      url,
      connection,
      'the registry',
      {...headers, authorization: bearer},
      options.method,
      hint,
    ),
    method: 'bearer',
    authorization: bearer,
  }
}

/** The /v2/ base for a registry, retrying a loopback host without a scheme over plain HTTP as docker does. */
export async function reachableEndpoint(
  server: string,
  connection: RegistryConnection & {unreachableHint?: string},
): Promise<URL> {
  const endpoint = registryEndpoint(server)
  const explicitScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server)
  if (explicitScheme || !isLoopback(endpoint.hostname) || endpoint.protocol !== 'https:') return endpoint
  try {
    await request(endpoint, connection)
    return endpoint
  } catch (error) {
    const code = networkErrorCode(error) ?? ''
    // Docker treats 127.0.0.0/8 as an insecure registry: without a scheme it retries over plain HTTP.
    if (code === 'EPROTO' || code.startsWith('ERR_SSL')) return new URL(`http://${endpoint.host}/v2/`)
    return endpoint
  }
}

function rejected(username: string, endpoint: URL, status: number): UserError {
  return new UserError(
    `registry ${endpoint.host} rejected username "${username}" and the password (HTTP ${status} from ${endpoint.origin}); check them, nothing was created`,
  )
}

/**
 * Log in as `docker login` does (Docker Registry v2 auth): GET /v2/ with the challenge flow, and
 * succeed only when the registry itself answers 200.
 */
export async function verifyRegistryLogin(options: RegistryLoginOptions): Promise<RegistryLoginResult> {
  const connection = withDeadline({
    ...options,
    unreachableHint: '; check --docker-server, or skip the check with --no-verify',
  })
  const endpoint = await reachableEndpoint(options.server, connection)
  const {response, method, tokenStatus} = await authorizedRequest(endpoint, connection, options)
  if (tokenStatus === 401 || tokenStatus === 403) throw rejected(options.username, endpoint, tokenStatus)
  if (tokenStatus !== undefined)
    throw new UserError(`the token service of registry ${endpoint.host} answered HTTP ${tokenStatus}`)
  if (response.status === 200) return {endpoint: endpoint.href, method}
  if (response.status === 401 || response.status === 403) throw rejected(options.username, endpoint, response.status)
  throw new UserError(
    `${endpoint.href} answered HTTP ${response.status}, not a Docker Registry v2 API; check --docker-server`,
  )
}

/** Manifest media types we accept, so the registry returns the digest it stores (index or manifest). */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ')

/**
 * Which digest a tag points to now: HEAD /v2/<name>/manifests/<tag>, read Docker-Content-Digest
 * (or hash the manifest when a registry leaves it out).
 */
export async function resolveTagDigest(
  image: {registry: string; repository: string; tag: string},
  given: RegistryConnection,
  credentials?: RegistryCredentials,
): Promise<string> {
  const connection = withDeadline(given)
  const endpoint = await reachableEndpoint(image.registry, connection)
  const url = new URL(`${image.repository}/manifests/${encodeURIComponent(image.tag)}`, endpoint)
  const scope = `repository:${image.repository}:pull`
  const name = `${image.registry}/${image.repository}:${image.tag}`
  const head = await authorizedRequest(url, connection, credentials, {method: 'HEAD', accept: MANIFEST_ACCEPT, scope})
  const {tokenStatus} = head
  let {response} = head
  if (tokenStatus !== undefined)
    throw new UserError(
      `cannot resolve ${name}: the registry's token service refused${credentials ? ` user "${credentials.username}"` : ' anonymous access'} (HTTP ${tokenStatus})`,
    )
  const header = response.headers['docker-content-digest']
  if (response.status === 200 && typeof header === 'string' && /^sha256:[a-f0-9]{64}$/.test(header)) return header
  if (response.status === 200) {
    ;({response} = await authorizedRequest(url, connection, credentials, {
      method: 'GET',
      accept: MANIFEST_ACCEPT,
      scope,
    }))
    if (response.status === 200) {
      const {createHash} = await import('node:crypto')
      return `sha256:${createHash('sha256').update(response.body).digest('hex')}`
    }
  }
  if (response.status === 404) throw new UserError(`cannot resolve ${name}: the registry has no such tag`)
  if (response.status === 401 || response.status === 403)
    throw new UserError(
      `cannot resolve ${name}: the registry refused${credentials ? ` user "${credentials.username}"` : ' anonymous access'} (HTTP ${response.status}); give credentials with --docker-config`,
    )
  throw new UserError(`cannot resolve ${name}: the registry answered HTTP ${response.status}`)
}

import type {AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig} from '@kubernetes/client-node'

import {describeSystemError, errorCode, safeErrorMessage} from '../describe-error.js'
import {parseRequestTimeout} from '../duration.js'
import {describeNetworkError} from '../network-errors.js'
import {UserError} from '../errors.js'
import {type KubeTargetOptions, loadKubeconfig, requireServer, type ResolvedKubeconfig} from './kubeconfig.js'

/** What an API call was doing, so a failure can say which verb/resource/namespace was refused. */
export interface ApiCall {
  verb: 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete'
  /** Plural resource, e.g. "secrets". */
  resource: string
  namespace?: string
  name?: string
}

export interface KubeClient {
  config: ResolvedKubeconfig
  server: string
  kubeConfig: KubeConfig
  core: CoreV1Api
  apps: AppsV1Api
  batch: BatchV1Api
  /** Milliseconds each request may take (0: no limit): --request-timeout, else DEFAULT_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs: number
  /** An API client of any generated type (CoreV1Api, AuthorizationV1Api…) with this client's timeout. */
  api<T>(type: new (configuration: ApiConfiguration) => T): T
  /** Run one API request, turning any failure into a one-line UserError that names the call. */
  call<T>(call: ApiCall, request: () => Promise<T>): Promise<T>
}

type ApiConfiguration = import('@kubernetes/client-node').Configuration

export {DEFAULT_REQUEST_TIMEOUT_MS, parseRequestTimeout} from '../duration.js'

/** The one factory for cluster clients. client-node is imported here, lazily, so that commands that do not talk to a cluster start fast. */
export async function createKubeClient(options: KubeTargetOptions, config: ResolvedKubeconfig = loadKubeconfig(options)): Promise<KubeClient> {
  const server = requireServer(config)
  const k8s = await import('@kubernetes/client-node')
  const kubeConfig = new k8s.KubeConfig()
  try {
    kubeConfig.loadFromString(JSON.stringify(config.merged))
  } catch (error) {
    // client-node names the entry and field ("users[0].name is missing"); anything else could quote a value.
    const message = (error as Error).message ?? ''
    const field = /^(?:clusters|users|contexts)\[\d+\][\w.]* is missing$/.test(message) ? `: ${message}` : ''
    throw new UserError(`kubeconfig (${config.files.join(', ')}) could not be loaded${field}`)
  }
  guardCredentials(kubeConfig, config)
  const requestTimeoutMs = parseRequestTimeout(options.requestTimeout)
  // The configuration KubeConfig.makeApiClient builds, plus a deadline on every request.
  const configuration = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(server, {}),
    authMethods: {default: kubeConfig},
    promiseMiddleware: requestTimeoutMs > 0 ? [{
      pre: async (context) => {
        context.setSignal(AbortSignal.timeout(requestTimeoutMs))
        return context
      },
      post: async (response) => response,
    }] : [],
  })
  const api = <T>(type: new (configuration: ApiConfiguration) => T): T => new type(configuration)
  return {
    config,
    server,
    kubeConfig,
    core: api(k8s.CoreV1Api),
    apps: api(k8s.AppsV1Api),
    batch: api(k8s.BatchV1Api),
    requestTimeoutMs,
    api,
    async call<T>(call: ApiCall, request: () => Promise<T>): Promise<T> {
      try {
        return await request()
      } catch (error) {
        throw describeApiError(error, call, server, config.contextName, requestTimeoutMs)
      }
    },
  }
}

/** True for the failure of a request that ran out of time (fetch's AbortError, a socket timeout). */
export function isTimeout(error: unknown): boolean {
  const name = (error as {name?: unknown})?.name
  const type = (error as {type?: unknown})?.type
  return name === 'AbortError' || name === 'TimeoutError' || type === 'aborted' || type === 'request-timeout'
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

/**
 * Credentials and certificates are read per request (files named by the kubeconfig, an exec
 * plugin's answer). Their failures carry raw codes or quote what they read (JSON.parse of the
 * plugin's output, which holds a token): turn them into one line that names the user and the file
 * or plugin, never the content.
 */
function guardCredentials(kubeConfig: KubeConfig, config: ResolvedKubeconfig): void {
  const target = kubeConfig as unknown as {applyOptions(options: object): Promise<void>}
  const applyOptions = target.applyOptions.bind(kubeConfig)
  target.applyOptions = async (options: object) => {
    try {
      await applyOptions(options)
    } catch (error) {
      throw describeCredentialError(error, kubeConfig, config)
    }
  }
}

function describeCredentialError(error: unknown, kubeConfig: KubeConfig, config: ResolvedKubeconfig): UserError {
  if (error instanceof UserError) return error
  const user = kubeConfig.getCurrentUser()
  const who = `user "${config.userName ?? user?.name ?? ''}" of context "${config.contextName ?? ''}"`
  const exec = user?.exec as {command?: string} | undefined
  const failure = error as {syscall?: unknown; path?: unknown}
  if (exec?.command) {
    const plugin = `the credential plugin "${exec.command}" of ${who}`
    if (typeof failure.syscall === 'string' && failure.syscall.startsWith('spawn')) {
      return new UserError(`${plugin} cannot be run: ${describeSystemError(error)}${errorCode(error) === 'ENOENT' ? ' (is it installed and on PATH?)' : ''}`)
    }
    if (error instanceof SyntaxError) return new UserError(`${plugin} printed something that is not an ExecCredential in JSON; run it by hand to see what it prints`)
    // client-node rejects with the plugin's stderr as the message when it exits non-zero: not repeated here.
    if (error instanceof Error && error.constructor === Error) return new UserError(`${plugin} failed (it exited with an error); run it by hand to see why`)
    return new UserError(`${plugin} gave no usable credential (an ExecCredential with status.token or a client certificate)`)
  }
  if (typeof failure.path === 'string' && errorCode(error)) {
    return new UserError(`${failure.path}, named in the kubeconfig for ${who} or its cluster, cannot be read: ${describeSystemError(error)}`)
  }
  return new UserError(`the credentials of ${who} could not be obtained: ${safeErrorMessage(error)}`)
}

/** The Kubernetes Status object carried by a failed response, when there is one. */
export interface KubeStatus {
  kind?: string
  message?: string
  reason?: string
  code?: number
  details?: {name?: string; kind?: string; group?: string; causes?: Array<{field?: string; message?: string; reason?: string}>}
}

export function apiStatusOf(error: unknown): {code: number; status: KubeStatus} | undefined {
  const candidate = error as {code?: unknown; body?: unknown}
  if (!candidate || typeof candidate.code !== 'number' || candidate.body === undefined) return undefined
  let body = candidate.body
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body)
    } catch {
      // Not a Status (a proxy's HTML page, a load balancer's text): its content is never repeated.
      body = {}
    }
  }
  if (!body || typeof body !== 'object') body = {}
  // Only a Kubernetes Status speaks for the API server; other JSON (a proxy's) is not repeated either.
  const status = body as KubeStatus
  if (status.kind !== 'Status') return {code: candidate.code, status: {}}
  return {code: candidate.code, status}
}

function target(call: ApiCall): string {
  const object = call.name ? `${call.resource} "${call.name}"` : call.resource
  return call.namespace ? `${object} in namespace "${call.namespace}"` : object
}

/** Turn a client-node failure into one line a user can act on. Never includes request bodies. */
export function describeApiError(error: unknown, call: ApiCall, server: string, contextName?: string, timeoutMs?: number): UserError {
  if (error instanceof UserError) return error
  if (isTimeout(error)) {
    const limit = timeoutMs ? ` within ${seconds(timeoutMs)}` : ''
    return new UserError(`the Kubernetes API server ${server} did not answer${limit} (${call.verb} ${target(call)}); check that the kubeconfig's server address is right and reachable, or raise --request-timeout`)
  }
  const api = apiStatusOf(error)
  if (api) {
    const {code, status} = api
    const message = status.message ?? ''
    const debug = `HTTP ${code} ${status.reason ?? ''} from ${server}: ${message}`
    switch (code) {
      case 401:
        return new UserError(`unauthorized: the API server ${server} rejected the credentials of context "${contextName ?? ''}" (${call.verb} ${target(call)}); log in again or fix the kubeconfig user`, {detail: debug})
      case 403:
        return new UserError(`forbidden: RBAC does not allow you to ${call.verb} ${target(call)}${message ? `: ${message}` : ''}`, {detail: debug})
      case 404:
        if (status.details?.kind === 'namespaces' && call.resource !== 'namespaces') {
          return new UserError(`namespace "${status.details.name ?? call.namespace}" not found; create it first (kubectl create namespace ${status.details.name ?? call.namespace})`, {detail: debug})
        }
        return new UserError(`${target(call)} not found`, {detail: debug})
      case 409:
        if (status.reason === 'AlreadyExists') return new UserError(`${target(call)} already exists`, {detail: debug})
        return new UserError(`conflict: ${target(call)} was changed by someone else while we updated it; run the command again`, {detail: debug})
      case 422:
        return new UserError(`the API server rejected ${target(call)} as invalid${message ? `: ${message}` : ''}`, {detail: debug})
      default:
        return new UserError(`${call.verb} ${target(call)} failed: HTTP ${code}${message ? `: ${message}` : ''}`, {detail: debug})
    }
  }
  const network = describeNetworkError(error, server, 'the Kubernetes API server')
  if (network) return new UserError(`${network} (context "${contextName ?? ''}")`, {detail: safeErrorMessage(error)})
  if (error instanceof SyntaxError || (error as {notJson?: unknown})?.notJson) {
    // The parser's message would quote the answer.
    return new UserError(`${call.verb} ${target(call)}: the answer of ${server} is not JSON (is the kubeconfig's server a Kubernetes API server, not a proxy or a web page?)`)
  }
  return new UserError(`${call.verb} ${target(call)} on ${server} failed: ${safeErrorMessage(error)}`)
}

/** Read a list call page by page (`limit`/`continue`), handing each page over as it arrives: big clusters are never held in memory whole. */
export async function forEachPage<T>(
  fetchPage: (page: {limit: number; _continue?: string}) => Promise<{items: T[]; metadata?: {_continue?: string}}>,
  onPage: (items: T[]) => void,
  pageSize = 500,
): Promise<void> {
  let token: string | undefined
  do {
    // eslint-disable-next-line no-await-in-loop -- pages are sequential by design
    const page = await fetchPage({limit: pageSize, _continue: token})
    onPage(page.items)
    token = page.metadata?._continue || undefined
  } while (token)
}

/** Read every page of a list call into one array (for lists that are small by nature). */
export async function listAllPages<T>(
  fetchPage: (page: {limit: number; _continue?: string}) => Promise<{items: T[]; metadata?: {_continue?: string}}>,
  pageSize = 500,
): Promise<T[]> {
  const items: T[] = []
  await forEachPage(fetchPage, (page) => items.push(...page), pageSize)
  return items
}

/**
 * GET a path of the API as plain JSON, bypassing client-node's model classes: for big read-only
 * lists, where turning every object into class instances (and every timestamp into a Date)
 * costs more time and memory than the audit itself. Failures look like client-node's
 * (`code` and the Status `body`), so describeApiError reads them the same way.
 */
export async function getRawJson(client: KubeClient, path: string, query: Record<string, string | number | undefined>): Promise<any> {
  const url = new URL(client.server.replace(/\/$/, '') + path)
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') url.searchParams.set(key, String(value))
  const options: import('node:https').RequestOptions = {method: 'GET', headers: {accept: 'application/json'}}
  if (client.requestTimeoutMs > 0) options.signal = AbortSignal.timeout(client.requestTimeoutMs)
  await client.kubeConfig.applyToHTTPSOptions(options)
  const transport = url.protocol === 'https:' ? await import('node:https') : await import('node:http')
  return new Promise((resolve, reject) => {
    const req = transport.request(url, options, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) {
          try {
            resolve(JSON.parse(text))
          } catch {
            // JSON.parse's message quotes the body.
            reject(Object.assign(new Error(`the answer to GET ${url.pathname} is not JSON`), {notJson: true}))
          }
        } else {
          reject(Object.assign(new Error(`HTTP ${res.statusCode}`), {code: res.statusCode, body: text}))
        }
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** forEachPage over a raw list path (`/api/v1/pods`, `/apis/apps/v1/namespaces/x/replicasets`). */
export async function forEachRawPage<T>(client: KubeClient, path: string, query: Record<string, string | undefined>, onPage: (items: T[]) => void, pageSize = 500): Promise<void> {
  await forEachPage<T>(async (page) => {
    const list = await getRawJson(client, path, {...query, limit: page.limit, continue: page._continue})
    return {items: list.items ?? [], metadata: {_continue: list.metadata?.continue}}
  }, onPage, pageSize)
}

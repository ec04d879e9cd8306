import type {AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig} from '@kubernetes/client-node'

import {parseRequestTimeout} from '../duration.js'
import {describeApiError} from './api-errors.js'
import {UserError} from '../errors.js'
import {describeCredentialError, type KubeUser} from './credential-errors.js'
import type {ApiReader} from './api-reader.js'
import {ListItemSplitter, type ListRest} from './list-items.js'
import {type KubeTargetOptions, loadKubeconfig, requireServer, type ResolvedKubeconfig} from './kubeconfig.js'

/** What an API call was doing, so a failure can say which verb/resource/namespace was refused. */
export interface ApiCall {
  verb: 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete'
  /** Plural resource, e.g. "secrets". */
  resource: string
  namespace?: string
  name?: string
}

export interface KubeClient extends ApiReader {
  kubeConfig: KubeConfig
  core: CoreV1Api
  apps: AppsV1Api
  batch: BatchV1Api
  /** An API client of any generated type (CoreV1Api, AuthorizationV1Api…) with this client's timeout. */
  api<T>(type: new (configuration: ApiConfiguration) => T): T
}

type ApiConfiguration = import('@kubernetes/client-node').Configuration

export {DEFAULT_REQUEST_TIMEOUT_MS, parseRequestTimeout} from '../duration.js'
export {apiStatusOf, describeApiError, isTimeout, type KubeStatus} from './api-errors.js'

/** The one factory for cluster clients. client-node is imported here, lazily, so that commands that do not talk to a cluster start fast. */
export async function createKubeClient(
  options: KubeTargetOptions,
  config: ResolvedKubeconfig = loadKubeconfig(options),
): Promise<KubeClient> {
  const server = requireServer(config)
  const k8s = await import('./client-node.js')
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
    promiseMiddleware:
      requestTimeoutMs > 0
        ? [
            {
              pre: async (context) => {
                context.setSignal(AbortSignal.timeout(requestTimeoutMs))
                return context
              },
              post: async (response) => response,
            },
          ]
        : [],
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
    async requestOptions() {
      const options: import('node:https').RequestOptions = {}
      await kubeConfig.applyToHTTPSOptions(options)
      return options
    },
    async call<T>(call: ApiCall, request: () => Promise<T>): Promise<T> {
      try {
        return await request()
      } catch (error) {
        throw describeApiError(error, call, server, config.contextName, requestTimeoutMs)
      }
    },
  }
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
      const user = kubeConfig.getCurrentUser()
      throw describeCredentialError(error, {name: user?.name ?? '', exec: user?.exec as KubeUser['exec']}, config)
    }
  }
}

/** Read a list call page by page (`limit`/`continue`), handing each page over as it arrives: big clusters are never held in memory whole. */
export async function forEachPage<T>(
  fetchPage: (page: {limit: number; _continue?: string}) => Promise<{items: T[]; metadata?: {_continue?: string}}>,
  onPage: (items: T[]) => void | Promise<void>,
  pageSize = 500,
): Promise<void> {
  await everyPage(async (token) => {
    const page = await fetchPage({limit: pageSize, _continue: token})
    // The consumer's backpressure.
    await onPage(page.items)
    return page.metadata?._continue
  })
}

/** The `continue` loop of a paginated list: `readPage(token)` reads one page and returns the next token. */
async function everyPage(readPage: (token: string | undefined) => Promise<string | undefined>): Promise<void> {
  let token: string | undefined
  do {
    // eslint-disable-next-line no-await-in-loop -- pages are sequential by design
    token = (await readPage(token)) || undefined
  } while (token)
}

/** Read every page of a list call into one array (for lists that are small by nature). */
export async function listAllPages<T>(
  fetchPage: (page: {limit: number; _continue?: string}) => Promise<{items: T[]; metadata?: {_continue?: string}}>,
  pageSize = 500,
): Promise<T[]> {
  const items: T[] = []
  await forEachPage(
    fetchPage,
    (page) => {
      items.push(...page)
    },
    pageSize,
  )
  return items
}

/**
 * GET a path of the API as plain JSON, bypassing client-node's model classes: for big read-only
 * lists, where turning every object into class instances (and every timestamp into a Date)
 * costs more time and memory than the audit itself. Failures look like client-node's
 * (`code` and the Status `body`), so describeApiError reads them the same way.
 */
export async function getRawJson(
  client: ApiReader,
  path: string,
  query: Record<string, string | number | undefined>,
): Promise<any> {
  // Decoded chunk by chunk into one (rope) string: no second copy of the answer in Buffers outside the heap.
  let text = ''
  return rawGet(client, path, query, {
    chunk: (piece) => void (text += piece),
    end: () => JSON.parse(text),
  })
}

/**
 * GET a list path and hand its items over as they arrive, a few at a time (ListItemSplitter):
 * `onItems` may return a promise, and the answer is paused until it settles (the consumer's
 * backpressure). Returns the answer's other fields (`metadata.continue`).
 */
export async function streamRawList<T>(
  client: ApiReader,
  path: string,
  query: Record<string, string | number | undefined>,
  onItems: (items: T[]) => void | Promise<void>,
): Promise<ListRest> {
  let batch: T[] = []
  const splitter = new ListItemSplitter((item) => batch.push(item as T))
  const deliver = () => {
    if (batch.length === 0) return
    const items = batch
    batch = []
    return onItems(items)
  }
  return rawGet(client, path, query, {
    chunk(piece) {
      splitter.push(piece)
      return deliver()
    },
    async end() {
      const rest = splitter.end()
      await deliver()
      return rest
    },
  })
}

interface RawConsumer<R> {
  /** A decoded piece of a 2xx answer; a promise pauses the answer until it settles. */
  chunk(piece: string): void | Promise<void>
  /** The answer is complete: its result. Throwing (bad JSON) rejects with "not JSON". */
  end(): R | Promise<R>
}

async function rawGet<R>(
  client: ApiReader,
  path: string,
  query: Record<string, string | number | undefined>,
  consumer: RawConsumer<R>,
): Promise<R> {
  const url = new URL(client.server.replace(/\/$/, '') + path)
  for (const [key, value] of Object.entries(query))
    if (value !== undefined && value !== '') url.searchParams.set(key, String(value))
  const options: import('node:https').RequestOptions = await client.requestOptions()
  options.method = 'GET'
  options.headers = {...options.headers, accept: 'application/json'}
  if (client.requestTimeoutMs > 0) options.signal = AbortSignal.timeout(client.requestTimeoutMs)
  const transport = url.protocol === 'https:' ? await import('node:https') : await import('node:http')
  // JSON.parse's message quotes the body: never passed on.
  const notJson = () => Object.assign(new Error(`the answer to GET ${url.pathname} is not JSON`), {notJson: true})
  return new Promise((resolve, reject) => {
    const req = transport.request(url, options, (res) => {
      res.setEncoding('utf8')
      const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300
      let body = ''
      let failed = false
      const fail = (error: Error) => {
        if (failed) return
        failed = true
        reject(error)
        req.destroy()
      }
      res.on('data', (piece: string) => {
        if (failed) return
        if (!ok) {
          body += piece
          return
        }
        let pending: void | Promise<void>
        try {
          pending = consumer.chunk(piece)
        } catch (error) {
          fail(error instanceof SyntaxError ? notJson() : (error as Error))
          return
        }
        if (pending) {
          res.pause()
          pending.then(
            () => res.resume(),
            (error: Error) => fail(error),
          )
        }
      })
      res.on('end', () => {
        if (failed) return
        if (!ok) {
          reject(Object.assign(new Error(`HTTP ${res.statusCode}`), {code: res.statusCode, body}))
          return
        }
        Promise.resolve()
          .then(() => consumer.end())
          .then(resolve, (error: Error) => fail(error instanceof SyntaxError ? notJson() : error))
      })
      res.on('error', (error) => fail(error))
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * forEachPage over a raw list path (`/api/v1/pods`, `/apis/apps/v1/namespaces/x/replicasets`).
 * `onPage` is called with the items as they arrive (several times per page of `pageSize`).
 */
export async function forEachRawPage<T>(
  client: ApiReader,
  path: string,
  query: Record<string, string | undefined>,
  onPage: (items: T[]) => void | Promise<void>,
  pageSize = 500,
): Promise<void> {
  await everyPage(
    async (token) =>
      (await streamRawList<T>(client, path, {...query, limit: pageSize, continue: token}, onPage)).metadata?.continue,
  )
}

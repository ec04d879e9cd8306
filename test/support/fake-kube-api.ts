// An in-process Kubernetes API server for tests: real HTTP(S), real REST paths,
// real Status errors, an in-memory store. Both @kubernetes/client-node and the
// real kubectl binary talk to it, so code under test is exercised on the wire
// rather than against mocks that share our own assumptions about the API.

import {createHash, randomUUID} from 'node:crypto'
import {writeFile, chmod} from 'node:fs/promises'
import * as http from 'node:http'
import * as https from 'node:https'
import type {AddressInfo} from 'node:net'

import {accessReview, authorize, type DenyRule} from './fake-kube-api/authorization.js'
import {discoveryDocument, openApiV3Document} from './fake-kube-api/discovery.js'
import {ApiError, badRequest} from './fake-kube-api/errors.js'
import {clone} from './fake-kube-api/json.js'
import {type KubeconfigOptions, renderKubeconfig} from './fake-kube-api/kubeconfig.js'
import {list, deleteCollection} from './fake-kube-api/lists.js'
import {patch} from './fake-kube-api/patches.js'
import {decodeKubeProtobuf} from './fake-kube-api/protobuf.js'
import {mediaType, parseBody, PROTOBUF} from './fake-kube-api/request-bodies.js'
import {apiVersionOf, NAMESPACES, RESOURCES, withType} from './fake-kube-api/resources.js'
import {dryRunOf, type Reply, routeOf, verbOf} from './fake-kube-api/routes.js'
import {ObjectStore, storeKey} from './fake-kube-api/store.js'
import {DecodeError, normalizeSecretPayload, prepareForStorage} from './fake-kube-api/validation.js'
import {serveWatch} from './fake-kube-api/watch.js'
import {create, deleteObject, mustGet, scaleOf, update} from './fake-kube-api/writes.js'

export interface FakeKubeApiOptions {
  tls?: {key: string; cert: string}
  user?: string
  deny?: DenyRule[]
  /** extra namespaces created at start */
  namespaces?: string[]
}

export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string>
  headers: Record<string, string | string[] | undefined>
  contentType?: string
  body?: unknown
}

export type {DenyRule} from './fake-kube-api/authorization.js'
export type {KubeconfigOptions} from './fake-kube-api/kubeconfig.js'

export class FakeKubeApiServer {
  readonly requests: RecordedRequest[] = []
  url = ''
  private readonly store = new ObjectStore()
  private readonly denyRules: DenyRule[]
  private readonly user: string
  /** Warning headers of the request being served; requests are handled synchronously, one at a time. */
  private warnings: string[] = []
  private server!: http.Server | https.Server

  private constructor(options: FakeKubeApiOptions) {
    this.denyRules = [...(options.deny ?? [])]
    this.user = options.user ?? 'fake-user'
  }

  static async start(options: FakeKubeApiOptions = {}): Promise<FakeKubeApiServer> {
    const api = new FakeKubeApiServer(options)
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease', ...(options.namespaces ?? [])]) {
      if (!api.store.objects.has(storeKey(NAMESPACES, undefined, ns)))
        api.seed({apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns}})
    }
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      api.handle(req, res).catch((error) => {
        if (!res.headersSent)
          api.send(
            res,
            500,
            new ApiError(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`).status(),
          )
        else res.destroy()
      })
    }
    api.server = options.tls
      ? https.createServer({key: options.tls.key, cert: options.tls.cert}, handler)
      : http.createServer(handler)
    await new Promise<void>((resolve, reject) => {
      api.server.once('error', reject)
      api.server.listen(0, '127.0.0.1', () => resolve())
    })
    const {port} = api.server.address() as AddressInfo
    api.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`
    return api
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  deny(rule: DenyRule): void {
    this.denyRules.push(rule)
  }

  /** What /healthz, /livez and /readyz answer: ok, or 500 as an API server that is still starting does. */
  healthy = true

  seed(obj: Record<string, any>): Record<string, any> {
    const def = RESOURCES.find((r) => apiVersionOf(r) === obj.apiVersion && r.kind === obj.kind)
    if (!def) throw new Error(`FakeKubeApiServer.seed: unknown apiVersion/kind ${obj.apiVersion}/${obj.kind}`)
    if (typeof obj.metadata?.name !== 'string' || obj.metadata.name === '')
      throw new Error('FakeKubeApiServer.seed: metadata.name is required')
    const copy = clone(obj)
    copy.metadata = {...copy.metadata}
    if (def.namespaced) copy.metadata.namespace ??= 'default'
    else delete copy.metadata.namespace
    normalizeSecretPayload(def, copy)
    prepareForStorage(def, copy)
    const key = storeKey(def, copy.metadata.namespace, copy.metadata.name)
    const existing = this.store.objects.get(key)
    this.store.stamp(def, copy, existing)
    this.store.objects.set(key, copy)
    this.store.record(existing ? 'MODIFIED' : 'ADDED', def, copy)
    if (def === NAMESPACES && !existing) this.store.createDefaultServiceAccount(copy.metadata.name)
    return clone(copy)
  }

  getObject(resource: string, namespace: string | undefined, name: string): Record<string, any> | undefined {
    const def = RESOURCES.find((r) => r.resource === resource)
    if (!def) throw new Error(`FakeKubeApiServer.getObject: unknown resource ${resource}`)
    return clone(this.store.objects.get(storeKey(def, def.namespaced ? namespace : undefined, name)))
  }

  listObjects(resource: string, namespace?: string): Record<string, any>[] {
    const def = RESOURCES.find((r) => r.resource === resource)
    if (!def) throw new Error(`FakeKubeApiServer.listObjects: unknown resource ${resource}`)
    return this.store.select(def, namespace).map((o) => clone(o))
  }

  kubeconfig(options: KubeconfigOptions = {}): string {
    return renderKubeconfig(this.url, options)
  }

  async writeKubeconfig(file: string, options: KubeconfigOptions = {}): Promise<string> {
    await writeFile(file, this.kubeconfig(options), {mode: 0o600})
    // writeFile's mode only applies when it creates the file.
    await chmod(file, 0o600)
    return file
  }

  // ---------------------------------------------------------------- HTTP

  private send(res: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body)
    res.writeHead(code, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-cache, private',
      'Audit-Id': randomUUID(),
      ...(this.warnings.length > 0 ? {Warning: this.warnings.map((w) => `299 - ${JSON.stringify(w)}`)} : {}),
    })
    res.end(text)
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks)
    const url = new URL(req.url ?? '/', 'http://localhost')
    const query: Record<string, string> = {}
    for (const [k, v] of url.searchParams) query[k] = v
    const contentType = mediaType(req.headers['content-type'])
    let recordedBody: unknown
    if (raw.length > 0) {
      try {
        recordedBody = contentType === PROTOBUF ? decodeKubeProtobuf(raw) : JSON.parse(raw.toString('utf8'))
      } catch {
        recordedBody = contentType === PROTOBUF ? raw.toString('base64') : raw.toString('utf8')
      }
    }
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      headers: {...req.headers},
      ...(contentType ? {contentType} : {}),
      ...(raw.length > 0 ? {body: recordedBody} : {}),
    })

    this.warnings = []
    try {
      const reply = this.dispatch(req.method ?? 'GET', url.pathname, query, req.headers, contentType, raw)
      if (reply.watch) serveWatch(this.store, reply.watch, query, res)
      else if (reply.text !== undefined) {
        res.writeHead(reply.code, {
          'Content-Type': 'text/plain; charset=utf-8',
          'Content-Length': Buffer.byteLength(reply.text),
        })
        res.end(reply.text)
      } else this.send(res, reply.code, reply.body)
    } catch (error) {
      if (error instanceof ApiError) this.send(res, error.code, error.status())
      else if (error instanceof DecodeError) this.send(res, 400, badRequest(error.message).status())
      else throw error
    }
  }

  private dispatch(
    method: string,
    path: string,
    query: Record<string, string>,
    headers: http.IncomingHttpHeaders,
    contentType: string | undefined,
    raw: Buffer,
  ): Reply {
    const segments = path.split('/').filter(Boolean)
    if (method === 'GET') {
      if (segments.length === 1 && ['healthz', 'livez', 'readyz'].includes(segments[0]))
        return this.healthy
          ? {code: 200, text: 'ok'}
          : {code: 500, text: '[-]etcd failed: reason withheld\nreadyz check failed'}
      const document =
        segments[0] === 'openapi' && segments[1] === 'v3'
          ? openApiV3Document(segments, (text) => createHash('sha512').update(text).digest('hex').toUpperCase())
          : discoveryDocument(segments)
      if (document) return {code: 200, body: document}
    }
    const route = routeOf(segments)
    if (!route) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {})
    const user = (headers['impersonate-user'] as string | undefined) ?? this.user
    const verb = verbOf(method, route, query)
    authorize(this.denyRules, verb, route, user)
    const dryRun = dryRunOf(method, query)

    const {def} = route
    switch (verb) {
      case 'get':
        return {
          code: 200,
          body:
            route.subresource === 'scale'
              ? scaleOf(mustGet(this.store, route))
              : withType(def, mustGet(this.store, route)),
        }
      case 'list':
        return {code: 200, body: list(this.store, route, query)}
      case 'watch':
        return {code: 200, watch: route}
      case 'create':
        if (def.resource === 'selfsubjectaccessreviews')
          return accessReview(this.denyRules, parseBody(def, contentType, raw, query, this.warnings))
        return create(this.store, route, parseBody(def, contentType, raw, query, this.warnings), dryRun)
      case 'update':
        return {
          code: 200,
          body: update(this.store, route, parseBody(def, contentType, raw, query, this.warnings), dryRun),
        }
      case 'patch':
        return patch(this.store, route, contentType, raw, query, dryRun, this.warnings)
      case 'delete':
        return {code: 200, body: deleteObject(this.store, route, dryRun)}
      case 'deletecollection':
        return {code: 200, body: deleteCollection(this.store, route, query, dryRun)}
      default:
        throw new ApiError(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
          {},
        )
    }
  }
}

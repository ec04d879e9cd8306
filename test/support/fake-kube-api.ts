// An in-process Kubernetes API server for tests: real HTTP(S), real REST paths,
// real Status errors, an in-memory store. Both @kubernetes/client-node and the
// real kubectl binary talk to it, so code under test is exercised on the wire
// rather than against mocks that share our own assumptions about the API.
import {createHash, randomUUID} from 'node:crypto'
import {writeFile, chmod} from 'node:fs/promises'
import * as http from 'node:http'
import * as https from 'node:https'
import type {AddressInfo} from 'node:net'

import {
  apiVersionOf,
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  clone,
  DecodeError,
  decodeKubeProtobuf,
  deepEqual,
  discoveryDocument,
  fieldRequired,
  isObject,
  matchesFields,
  matchesLabels,
  NAMESPACES,
  normalizeSecretPayload,
  openApiV3Document,
  parseFieldSelector,
  parseLabelSelector,
  PatchError,
  prepareForStorage,
  qualified,
  type ResourceDef,
  RESOURCES,
  SelectorError,
  SERVICE_ACCOUNTS,
  type StatusCause,
  unknownFields,
  validate,
} from './fake-kube-api-patch.js'

export interface DenyRule {
  verb: string
  resource: string
  namespace?: string
}

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

export interface KubeconfigOptions {
  namespace?: string
  contextName?: string
  /** CA certificate for an https server: PEM text (base64-encoded for the kubeconfig) or data already in base64 */
  caData?: string
  token?: string
}

type Obj = Record<string, any>

// ---------------------------------------------------------------- errors

/** Anything thrown while serving a request; rendered as a metav1.Status body. */
class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: {name?: string; group?: string; kind?: string; causes?: Array<Partial<StatusCause> & {message: string}>},
  ) {
    super(message)
  }

  status(): Obj {
    const details = this.details && Object.fromEntries(Object.entries(this.details).filter(([, v]) => v !== undefined && v !== ''))
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(details ? {details} : {}),
      code: this.code,
    }
  }
}

const badRequest = (message: string) => new ApiError(400, 'BadRequest', message)

function notFound(def: ResourceDef, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(def)} "${name}" not found`, {name, group: def.group, kind: def.resource})
}

function unsupportedMediaType(accepted: string[]): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`)
}

function invalid(def: ResourceDef, name: string, causes: StatusCause[]): ApiError {
  const text = (c: StatusCause) => `${c.field}: ${c.message}`
  const summary = causes.length === 1 ? text(causes[0]) : `[${causes.map(text).join(', ')}]`
  // Real Invalid errors carry the Kind (not the plural resource) in details.kind.
  return new ApiError(422, 'Invalid', `${def.kind}${def.group ? '.' + def.group : ''} "${name}" is invalid: ${summary}`, {
    name,
    group: def.group,
    kind: def.kind,
    causes,
  })
}

// ---------------------------------------------------------------- helpers

function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z')
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'
function randomSuffix(): string {
  let out = ''
  for (let i = 0; i < 5; i++) out += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)]
  return out
}

/** How Go's encoding/json quotes the byte it stopped at: 'x', '\\', '\x01', '\u0081'. */
function goQuoteChar(byte: number): string {
  if (byte === 0x27) return "'\\''"
  if (byte === 0x5c) return "'\\\\'"
  if (byte >= 0x20 && byte < 0x7f) return `'${String.fromCharCode(byte)}'`
  const escapes: Record<number, string> = {0x07: 'a', 0x08: 'b', 0x0c: 'f', 0x0a: 'n', 0x0d: 'r', 0x09: 't', 0x0b: 'v'}
  if (escapes[byte]) return `'\\${escapes[byte]}'`
  if (byte < 0x20 || byte === 0x7f) return `'\\x${byte.toString(16).padStart(2, '0')}'`
  // Latin-1 as runes: Go prints the printable ones, escapes controls, NBSP and the soft hyphen.
  if (byte < 0xa1 || byte === 0xad) return `'\\u${byte.toString(16).padStart(4, '0')}'`
  return `'${String.fromCharCode(byte)}'`
}

/**
 * The start key of a continue token, refused as apiserver's storage.DecodeContinue refuses it
 * (400 "invalid continue token: ..."): not base64url, not JSON, another version, no rv or start.
 * JSON that fails past its first character is reported less precisely than Go's parser would.
 */
function decodeContinue(token: string): {start: string; rv: number} {
  const invalid = (why: string) => badRequest(`invalid continue token: continue key is not valid${why}`)
  const illegal = token.search(/[^A-Za-z0-9_-]/)
  if (illegal >= 0 || token.length % 4 === 1) throw invalid(`: illegal base64 data at input byte ${illegal >= 0 ? illegal : token.length - 1}`)
  const data = Buffer.from(token, 'base64url')
  let parsed: unknown
  try {
    parsed = JSON.parse(data.toString('utf8'))
  } catch {
    const first = data.find((byte) => ![0x20, 0x09, 0x0a, 0x0d].includes(byte))
    if (first === undefined) throw invalid(': unexpected end of JSON input')
    if (!'{["tfn-0123456789'.includes(String.fromCharCode(first))) throw invalid(`: invalid character ${goQuoteChar(first)} looking for beginning of value`)
    throw invalid(': not valid JSON')
  }
  if (parsed !== null && !isObject(parsed)) {
    const goType = Array.isArray(parsed) ? 'array' : typeof parsed === 'boolean' ? 'bool' : typeof parsed
    throw invalid(`: json: cannot unmarshal ${goType} into Go value of type storage.continueToken`)
  }
  const fields = (parsed ?? {}) as {v?: unknown; rv?: unknown; start?: unknown}
  if (fields.v !== 'meta.k8s.io/v1') throw invalid(`: server does not recognize this encoded version ${typeof fields.v === 'string' ? fields.v : ''}`)
  if (typeof fields.rv !== 'number' || !Number.isInteger(fields.rv) || fields.rv === 0) throw invalid(': incorrect encoded start resourceVersion (version meta.k8s.io/v1)')
  if (typeof fields.start !== 'string' || fields.start === '') throw invalid(': encoded start key empty (version meta.k8s.io/v1)')
  return {start: fields.start, rv: fields.rv}
}

/** 410 for a continue token whose snapshot is gone (etcd3's continueExpired: this fake offers no inconsistent-continue token). */
const CONTINUE_EXPIRED = 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'

const storeKey = (def: ResourceDef, namespace: string | undefined, name: string) => `${def.group}/${def.resource}/${namespace ?? ''}/${name}`
/** Where etcd keeps an object, below the resource's prefix: lists come back in this order. */
const sortKey = (obj: Obj): string => (obj.metadata?.namespace ? `${obj.metadata.namespace}/${obj.metadata.name ?? ''}` : (obj.metadata?.name ?? ''))
const bySortKey = (a: Obj, b: Obj) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0)

const PROTOBUF = 'application/vnd.kubernetes.protobuf'

function mediaType(header: string | undefined): string | undefined {
  return header?.split(';')[0].trim().toLowerCase() || undefined
}

function yamlString(value: string): string {
  // A JSON string literal is also a valid YAML double-quoted scalar.
  return JSON.stringify(value)
}

const APPLY_PATCH = 'application/apply-patch+yaml'
/** What the default ClusterRole system:basic-user lets every authenticated user create. */
const BASIC_USER_RESOURCES = ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']
const MAX_EVENTS = 2000

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED'
  def: ResourceDef
  object: Obj
  rv: number
}

type Reply = {code: number; body?: unknown; text?: string; watch?: Route}

interface Route {
  def: ResourceDef
  namespace?: string
  name?: string
  subresource?: string
  /** a namespaced resource listed across all namespaces */
  allNamespaces: boolean
}

// ---------------------------------------------------------------- server

export class FakeKubeApiServer {
  readonly requests: RecordedRequest[] = []
  url = ''
  private readonly store = new Map<string, Obj>()
  private readonly denyRules: DenyRule[]
  private readonly user: string
  private resourceVersion = 1
  private readonly events: WatchEvent[] = []
  /** resourceVersion of the newest event dropped from the replay log; older watches get 410 Gone */
  private compactedThrough = 0
  private readonly watchers = new Set<(event: WatchEvent) => void>()
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
      if (!api.store.has(storeKey(NAMESPACES, undefined, ns))) api.seed({apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns}})
    }
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      api.handle(req, res).catch((error) => {
        if (!res.headersSent) api.send(res, 500, new ApiError(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`).status())
        else res.destroy()
      })
    }
    api.server = options.tls ? https.createServer({key: options.tls.key, cert: options.tls.cert}, handler) : http.createServer(handler)
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
    if (typeof obj.metadata?.name !== 'string' || obj.metadata.name === '') throw new Error('FakeKubeApiServer.seed: metadata.name is required')
    const copy = clone(obj)
    copy.metadata = {...copy.metadata}
    if (def.namespaced) copy.metadata.namespace ??= 'default'
    else delete copy.metadata.namespace
    normalizeSecretPayload(def, copy)
    prepareForStorage(def, copy)
    const key = storeKey(def, copy.metadata.namespace, copy.metadata.name)
    const existing = this.store.get(key)
    this.stamp(def, copy, existing)
    this.store.set(key, copy)
    this.record(existing ? 'MODIFIED' : 'ADDED', def, copy)
    if (def === NAMESPACES && !existing) this.createDefaultServiceAccount(copy.metadata.name)
    return clone(copy)
  }

  getObject(resource: string, namespace: string | undefined, name: string): Record<string, any> | undefined {
    const def = RESOURCES.find((r) => r.resource === resource)
    if (!def) throw new Error(`FakeKubeApiServer.getObject: unknown resource ${resource}`)
    return clone(this.store.get(storeKey(def, def.namespaced ? namespace : undefined, name)))
  }

  listObjects(resource: string, namespace?: string): Record<string, any>[] {
    const def = RESOURCES.find((r) => r.resource === resource)
    if (!def) throw new Error(`FakeKubeApiServer.listObjects: unknown resource ${resource}`)
    return this.select(def, namespace).map((o) => clone(o))
  }

  kubeconfig(options: KubeconfigOptions = {}): string {
    const context = options.contextName ?? 'fake'
    const cluster = [`    server: ${yamlString(this.url)}`]
    if (this.url.startsWith('http:')) cluster.push('    insecure-skip-tls-verify: true')
    else if (options.caData) {
      const data = options.caData.includes('-----BEGIN') ? Buffer.from(options.caData, 'utf8').toString('base64') : options.caData.replace(/\s+/g, '')
      cluster.push(`    certificate-authority-data: ${data}`)
    }
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake-cluster',
      '  cluster:',
      ...cluster,
      'users:',
      '- name: fake-user',
      '  user:',
      `    token: ${yamlString(options.token ?? 'fake-token')}`,
      'contexts:',
      `- name: ${yamlString(context)}`,
      '  context:',
      '    cluster: fake-cluster',
      '    user: fake-user',
      ...(options.namespace ? [`    namespace: ${yamlString(options.namespace)}`] : []),
      `current-context: ${yamlString(context)}`,
      'preferences: {}',
      '',
    ].join('\n')
  }

  async writeKubeconfig(file: string, options: KubeconfigOptions = {}): Promise<string> {
    await writeFile(file, this.kubeconfig(options), {mode: 0o600})
    // writeFile's mode only applies when it creates the file.
    await chmod(file, 0o600)
    return file
  }

  // ---------------------------------------------------------------- store

  private nextResourceVersion(): string {
    this.resourceVersion += 1
    return String(this.resourceVersion)
  }

  /** Server-owned metadata, as set on create (no `old`) or update. */
  private stamp(def: ResourceDef, obj: Obj, old: Obj | undefined, dryRun = false): void {
    obj.apiVersion = apiVersionOf(def)
    obj.kind = def.kind
    const meta = obj.metadata
    meta.uid = old?.metadata.uid ?? meta.uid ?? randomUUID()
    meta.creationTimestamp = old?.metadata.creationTimestamp ?? meta.creationTimestamp ?? timestamp()
    meta.resourceVersion = dryRun ? (old?.metadata.resourceVersion ?? '') : this.nextResourceVersion()
    if (dryRun && !old) delete meta.resourceVersion
    if (def.generation) {
      const oldGeneration = old?.metadata.generation ?? 0
      meta.generation = old && deepEqual(old.spec, obj.spec) ? oldGeneration : oldGeneration + 1
    }
    if (def === NAMESPACES) {
      obj.spec = {finalizers: ['kubernetes'], ...obj.spec}
      obj.status = {phase: 'Active', ...obj.status}
    }
    if (def.resource === 'secrets') obj.type ??= 'Opaque'
  }

  private createDefaultServiceAccount(namespace: string): void {
    const key = storeKey(SERVICE_ACCOUNTS, namespace, 'default')
    if (this.store.has(key)) return
    const sa: Obj = {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'default', namespace}}
    this.stamp(SERVICE_ACCOUNTS, sa, undefined)
    this.store.set(key, sa)
    this.record('ADDED', SERVICE_ACCOUNTS, sa)
  }

  private select(def: ResourceDef, namespace?: string): Obj[] {
    const prefix = `${def.group}/${def.resource}/`
    const out: Obj[] = []
    for (const [key, obj] of this.store) {
      if (!key.startsWith(prefix)) continue
      if (def.namespaced && namespace !== undefined && obj.metadata.namespace !== namespace) continue
      out.push(obj)
    }
    return out.sort(bySortKey)
  }

  /**
   * The objects of `def` as they were at resourceVersion `rv` (what a continued list shows: the
   * snapshot of its first page), rebuilt from the event log; undefined when the log, trimmed to
   * MAX_EVENTS, no longer reaches back that far.
   */
  private selectAt(def: ResourceDef, namespace: string | undefined, rv: number): Obj[] | undefined {
    const later = this.events.filter((e) => e.def === def && e.rv > rv)
    if (later.length === 0) return this.select(def, namespace)
    const state = new Map(this.select(def, undefined).map((o) => [sortKey(o), o]))
    for (const key of new Set(later.map((e) => sortKey(e.object)))) {
      const before = this.events.filter((e) => e.def === def && e.rv <= rv && sortKey(e.object) === key).at(-1)
      if (before) {
        if (before.type === 'DELETED') state.delete(key)
        else state.set(key, before.object)
      } else if (later.find((e) => sortKey(e.object) === key)!.type === 'ADDED') state.delete(key)
      else return undefined
    }
    return [...state.values()].filter((o) => !def.namespaced || namespace === undefined || o.metadata.namespace === namespace).sort(bySortKey)
  }

  private namespaceExists(name: string): boolean {
    return this.store.has(storeKey(NAMESPACES, undefined, name))
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
    this.requests.push({method: req.method ?? 'GET', path: url.pathname, query, headers: {...req.headers}, ...(contentType ? {contentType} : {}), ...(raw.length > 0 ? {body: recordedBody} : {})})

    this.warnings = []
    try {
      const reply = this.dispatch(req.method ?? 'GET', url.pathname, query, req.headers, contentType, raw)
      if (reply.watch) this.watch(reply.watch, query, res)
      else if (reply.text !== undefined) {
        res.writeHead(reply.code, {'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(reply.text)})
        res.end(reply.text)
      } else this.send(res, reply.code, reply.body)
    } catch (error) {
      if (error instanceof ApiError) this.send(res, error.code, error.status())
      else if (error instanceof DecodeError) this.send(res, 400, badRequest(error.message).status())
      else throw error
    }
  }

  private dispatch(method: string, path: string, query: Record<string, string>, headers: http.IncomingHttpHeaders, contentType: string | undefined, raw: Buffer): Reply {
    const segments = path.split('/').filter(Boolean)
    if (method === 'GET') {
      if (segments.length === 1 && ['healthz', 'livez', 'readyz'].includes(segments[0])) return this.healthy ? {code: 200, text: 'ok'} : {code: 500, text: '[-]etcd failed: reason withheld\nreadyz check failed'}
      const document = segments[0] === 'openapi' && segments[1] === 'v3' ? openApiV3Document(segments, (text) => createHash('sha512').update(text).digest('hex').toUpperCase()) : discoveryDocument(segments)
      if (document) return {code: 200, body: document}
    }
    const route = this.route(segments)
    if (!route) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {})
    const user = (headers['impersonate-user'] as string | undefined) ?? this.user
    const verb = this.verb(method, route, query)
    this.authorize(verb, route, user)
    const dryRun = this.dryRun(method, query)

    const {def} = route
    switch (verb) {
      case 'get':
        return {code: 200, body: route.subresource === 'scale' ? this.scaleOf(this.mustGet(route)) : this.withType(def, this.mustGet(route))}
      case 'list':
        return {code: 200, body: this.list(route, query)}
      case 'watch':
        return {code: 200, watch: route}
      case 'create':
        if (def.resource === 'selfsubjectaccessreviews') return this.accessReview(this.parseBody(def, contentType, raw, query))
        return this.create(route, this.parseBody(def, contentType, raw, query), dryRun)
      case 'update':
        return {code: 200, body: this.update(route, this.parseBody(def, contentType, raw, query), dryRun)}
      case 'patch':
        return this.patch(route, contentType, raw, query, dryRun)
      case 'delete':
        return {code: 200, body: this.delete(route, dryRun)}
      case 'deletecollection':
        return {code: 200, body: this.deleteCollection(route, query, dryRun)}
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})
    }
  }

  /** The dryRun query parameter; any value but All is refused as the real options validation does (422, after authorization). */
  private dryRun(method: string, query: Record<string, string>): boolean {
    if (query.dryRun === undefined) return false
    if (query.dryRun === 'All') return true
    const options = ({POST: 'CreateOptions', PUT: 'UpdateOptions', PATCH: 'PatchOptions', DELETE: 'DeleteOptions'} as Record<string, string>)[method]
    if (!options) return false
    const message = `Unsupported value: ${JSON.stringify([query.dryRun])}: supported values: "All"`
    throw new ApiError(422, 'Invalid', `${options}.meta.k8s.io "" is invalid: dryRun: ${message}`, {
      group: 'meta.k8s.io',
      kind: options,
      causes: [{reason: 'FieldValueNotSupported', message, field: 'dryRun'}],
    })
  }

  private verb(method: string, route: Route, query: Record<string, string>): string {
    const collection = route.name === undefined
    if (route.subresource !== undefined) {
      const {def, subresource} = route
      if ((subresource !== 'status' || !def.status) && (subresource !== 'scale' || !def.scale)) {
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {})
      }
      return ({GET: 'get', PUT: 'update', PATCH: 'patch'} as Record<string, string>)[method] ?? 'unsupported'
    }
    switch (method) {
      case 'GET':
        if (query.watch === 'true' || query.watch === '1') return 'watch'
        return collection ? 'list' : 'get'
      case 'POST':
        return collection && !route.allNamespaces ? 'create' : 'unsupported'
      case 'PUT':
        return collection ? 'unsupported' : 'update'
      case 'PATCH':
        return collection ? 'unsupported' : 'patch'
      case 'DELETE':
        return collection ? (route.allNamespaces ? 'unsupported' : 'deletecollection') : 'delete'
      default:
        return 'unsupported'
    }
  }

  /**
   * Whether a deny rule refuses verb on resource in namespace (the fake's whole authorizer). A
   * wildcard rule leaves alone what the default ClusterRole system:basic-user grants every
   * authenticated user on a real cluster (creating SelfSubjectAccessReviews); a rule naming that
   * resource still refuses it.
   */
  private isDenied(verb: string, resource: string, namespace: string | undefined): boolean {
    const basicUser = verb === 'create' && BASIC_USER_RESOURCES.includes(resource)
    return this.denyRules.some(
      (rule) =>
        (rule.verb === verb || (rule.verb === '*' && !basicUser)) &&
        (rule.resource === resource || (rule.resource === '*' && !basicUser)) &&
        (rule.namespace === undefined || rule.namespace === namespace),
    )
  }

  /**
   * SelfSubjectAccessReview: answered from the deny rules, never stored (as the real API does). The
   * spec comes back as the server decoded it (empty fields omitted); a refusal carries no reason,
   * as RBAC gives none. With no deny rules the fake is cluster-admin (system:masters: allowed, no
   * reason); with some, the user is an ordinary one, whose system:basic-user grant RBAC names.
   */
  private accessReview(body: Obj): Reply {
    const prune = (value: unknown) => (isObject(value) ? Object.fromEntries(Object.entries(value).filter(([, v]) => v !== '' && v !== null && v !== undefined)) : undefined)
    const resourceAttributes = prune(body.spec?.resourceAttributes)
    const nonResourceAttributes = prune(body.spec?.nonResourceAttributes)
    const attributes = (resourceAttributes ?? {}) as {verb?: string; resource?: string; subresource?: string; namespace?: string}
    const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : String(attributes.resource ?? '')
    const verb = String(attributes.verb ?? '')
    const denied = this.isDenied(verb, resource, attributes.namespace || undefined)
    const status = denied
      ? {allowed: false}
      : this.denyRules.length > 0 && verb === 'create' && BASIC_USER_RESOURCES.includes(resource)
        ? {allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated"'}
        : {allowed: true}
    const spec = {...(resourceAttributes ? {resourceAttributes} : {}), ...(nonResourceAttributes ? {nonResourceAttributes} : {})}
    return {code: 201, body: {kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: {}, spec, status}}
  }

  private authorize(verb: string, route: Route, user: string): void {
    if (verb === 'unsupported') return
    const {def, name} = route
    const namespace = def.namespaced ? route.namespace : undefined
    // RBAC names subresources "resource/subresource"; a rule for the parent does not cover them.
    const resource = route.subresource ? `${def.resource}/${route.subresource}` : def.resource
    if (!this.isDenied(verb, resource, namespace)) return
    // The authorizer runs before the body is read, so a create never names the object.
    const subject = name !== undefined && verb !== 'create' ? `${qualified(def)} "${name}"` : qualified(def)
    const scope = namespace === undefined ? 'at the cluster scope' : `in the namespace "${namespace}"`
    throw new ApiError(403, 'Forbidden', `${subject} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${def.group}" ${scope}`, {
      name: verb === 'create' ? undefined : name,
      group: def.group,
      kind: def.resource,
    })
  }

  private route(segments: string[]): Route | undefined {
    let group: string
    let version: string
    let rest: string[]
    if (segments[0] === 'api' && segments.length >= 3) {
      group = ''
      version = segments[1]
      rest = segments.slice(2)
    } else if (segments[0] === 'apis' && segments.length >= 4) {
      group = segments[1]
      version = segments[2]
      rest = segments.slice(3)
    } else return undefined
    const find = (resource: string) => RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource)
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const def = find(rest[2])
      if (def?.namespaced) {
        if (rest.length > 5) return undefined
        return {def, namespace: rest[1], name: rest[3], subresource: rest[4], allNamespaces: false}
      }
      if (group !== '' || rest.length !== 3) return undefined
    }
    const def = find(rest[0])
    if (!def || rest.length > 3) return undefined
    if (def.namespaced) return rest.length === 1 ? {def, allNamespaces: true} : undefined
    return {def, name: rest[1], subresource: rest[2], allNamespaces: false}
  }

  // ---------------------------------------------------------------- verbs

  private withType(def: ResourceDef, obj: Obj): Obj {
    return {apiVersion: apiVersionOf(def), kind: def.kind, ...clone(obj)}
  }

  private mustGet(route: Route): Obj {
    const {def, namespace, name} = route
    const obj = this.store.get(storeKey(def, def.namespaced ? namespace : undefined, name!))
    if (!obj) throw notFound(def, name!)
    return obj
  }

  private parseBody(def: ResourceDef, contentType: string | undefined, raw: Buffer, query: Record<string, string>): Obj {
    // Real apiservers treat a missing Content-Type as JSON; YAML is accepted only
    // in its JSON subset because this fake has no YAML parser.
    if (contentType !== undefined && !['application/json', 'application/yaml', PROTOBUF].includes(contentType)) {
      throw unsupportedMediaType(['application/json', 'application/yaml', PROTOBUF])
    }
    let body: unknown
    try {
      body = contentType === PROTOBUF ? decodeKubeProtobuf(raw) : JSON.parse(raw.toString('utf8'))
    } catch (error) {
      if (error instanceof PatchError) throw unsupportedMediaType(['application/json', 'application/yaml'])
      throw badRequest(`couldn't get version/kind; json parse error: ${(error as Error).message}`)
    }
    if (!isObject(body)) throw badRequest(`couldn't get version/kind; json parse error: json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`)
    this.checkTypeMeta(def, body)
    this.checkFields(def, body, query)
    normalizeSecretPayload(def, body)
    return body
  }

  private checkFields(def: ResourceDef, obj: Obj, query: Record<string, string>): void {
    const unknown = unknownFields(def, obj)
    if (unknown.length === 0) return
    if (query.fieldValidation === 'Strict') throw badRequest(`strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`)
    for (const field of unknown) {
      if (field.startsWith('metadata.')) delete obj.metadata[field.slice('metadata.'.length)]
      else delete obj[field]
      if (query.fieldValidation !== 'Ignore') this.warnings.push(`unknown field "${field}"`)
    }
  }

  private checkTypeMeta(def: ResourceDef, body: Obj): void {
    if (body.apiVersion !== undefined && body.apiVersion !== '' && body.apiVersion !== apiVersionOf(def)) {
      throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(def)})`)
    }
    if (body.kind !== undefined && body.kind !== '' && body.kind !== def.kind) {
      throw badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${def.kind})`)
    }
    if (body.metadata !== undefined && !isObject(body.metadata)) {
      throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: json: cannot unmarshal into Go struct field ${def.kind}.metadata of type v1.ObjectMeta`)
    }
  }

  /** Namespace from the URL wins; a different one in the body is a client bug the server refuses. */
  private placeInNamespace(route: Route, obj: Obj): void {
    obj.metadata = {...obj.metadata}
    if (!route.def.namespaced) {
      delete obj.metadata.namespace
      return
    }
    if (obj.metadata.namespace && obj.metadata.namespace !== route.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
    }
    obj.metadata.namespace = route.namespace
  }

  private create(route: Route, body: Obj, dryRun: boolean): {code: number; body: Obj} {
    const {def} = route
    this.placeInNamespace(route, body)
    const meta = body.metadata
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`
    // Admission (NamespaceLifecycle) refuses a missing namespace before validation runs.
    if (def.namespaced && !this.namespaceExists(route.namespace!)) throw notFound(NAMESPACES, route.namespace!)
    if (!meta.name) throw invalid(def, '', [fieldRequired('metadata.name', 'name or generateName is required')])
    prepareForStorage(def, body)
    const errors = validate(def, body)
    if (errors.length > 0) throw invalid(def, meta.name, errors)
    const key = storeKey(def, meta.namespace, meta.name)
    if (this.store.has(key)) {
      throw new ApiError(409, 'AlreadyExists', `${qualified(def)} "${meta.name}" already exists`, {name: meta.name, group: def.group, kind: def.resource})
    }
    for (const field of ['resourceVersion', 'uid', 'creationTimestamp', 'deletionTimestamp', 'generation', 'managedFields', 'selfLink']) delete meta[field]
    // Status is owned by controllers: real strategies reset it on create.
    if (def.resource === 'pods') body.status = {phase: 'Pending', qosClass: 'BestEffort'}
    else if (def.status && def !== NAMESPACES && def.resource !== 'nodes') body.status = {}
    this.stamp(def, body, undefined, dryRun)
    if (!dryRun) {
      this.store.set(key, body)
      this.record('ADDED', def, body)
      if (def === NAMESPACES) this.createDefaultServiceAccount(meta.name)
    }
    return {code: 201, body: this.withType(def, body)}
  }

  private conflict(def: ResourceDef, name: string): ApiError {
    return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(def)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, {
      name,
      group: def.group,
      kind: def.resource,
    })
  }

  /** Shared tail of PUT and PATCH on an object or its /status: checks, validation, no-op detection, store. */
  private commitUpdate(route: Route, old: Obj, next: Obj, dryRun: boolean): Obj {
    const {def} = route
    const name = route.name!
    if (!isObject(next.metadata)) next.metadata = {}
    if (next.metadata.name !== undefined && next.metadata.name !== name) {
      throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`)
    }
    next.metadata.name = name
    this.placeInNamespace(route, next)
    const rv = next.metadata.resourceVersion
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw this.conflict(def, name)
    if (next.metadata.uid !== undefined && next.metadata.uid !== '' && next.metadata.uid !== old.metadata.uid) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(def)} "${name}": Precondition failed: UID in precondition: ${next.metadata.uid}, UID in object meta: ${old.metadata.uid}`, {
        name,
        group: def.group,
        kind: def.resource,
      })
    }
    if (route.subresource === 'status') {
      // A status write changes status only; everything else comes from the stored object.
      next = {...clone(old), status: next.status}
    } else if (def.status) {
      // ...and a main-resource write cannot change status.
      if (old.status === undefined) delete next.status
      else next.status = clone(old.status)
    }
    next.apiVersion = apiVersionOf(def)
    next.kind = def.kind
    prepareForStorage(def, next)
    const errors = validate(def, next, old)
    if (errors.length > 0) throw invalid(def, name, errors)
    // Server-owned fields the client cannot change through an update.
    next.metadata.uid = old.metadata.uid
    next.metadata.creationTimestamp = old.metadata.creationTimestamp
    if (old.metadata.generation !== undefined) next.metadata.generation = old.metadata.generation
    next.metadata.resourceVersion = old.metadata.resourceVersion
    if (def.resource === 'secrets') next.type ??= 'Opaque'
    // A no-op write does not bump resourceVersion on a real apiserver either.
    if (deepEqual(next, old)) return this.withType(def, old)
    this.stamp(def, next, old, dryRun)
    if (!dryRun) {
      this.store.set(storeKey(def, next.metadata.namespace, name), next)
      this.record('MODIFIED', def, next)
    }
    return this.withType(def, next)
  }

  private update(route: Route, body: Obj, dryRun: boolean): Obj {
    const old = this.mustGet(route)
    if (route.subresource === 'scale') return this.commitScale(route, old, body, dryRun)
    return this.commitUpdate(route, old, body, dryRun)
  }

  /** autoscaling/v1 Scale view of a workload, as served on .../scale. */
  private scaleOf(obj: Obj): Obj {
    const matchLabels: Record<string, string> = obj.spec?.selector?.matchLabels ?? {}
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion, creationTimestamp: obj.metadata.creationTimestamp},
      spec: {replicas: obj.spec?.replicas ?? 1},
      status: {replicas: obj.status?.replicas ?? 0, selector: Object.entries(matchLabels).map(([k, v]) => `${k}=${v}`).join(',')},
    }
  }

  private commitScale(route: Route, old: Obj, scale: Obj, dryRun: boolean): Obj {
    const rv = scale.metadata?.resourceVersion
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw this.conflict(route.def, route.name!)
    const replicas = scale.spec?.replicas
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw new ApiError(422, 'Invalid', `Scale.autoscaling "${route.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`, {
        name: route.name,
        group: 'autoscaling',
        kind: 'Scale',
        causes: [{reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`, field: 'spec.replicas'}],
      })
    }
    const next = clone(old)
    next.spec = {...next.spec, replicas}
    return this.scaleOf(this.commitUpdate({...route, subresource: undefined}, old, next, dryRun))
  }

  private patch(route: Route, contentType: string | undefined, raw: Buffer, query: Record<string, string>, dryRun: boolean): Reply {
    const {def} = route
    const types = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', APPLY_PATCH]
    if (!contentType || !types.includes(contentType)) throw unsupportedMediaType(types)
    let patch: unknown
    try {
      patch = JSON.parse(raw.toString('utf8'))
    } catch (error) {
      // Server-side apply bodies may be YAML; only its JSON subset is understood here.
      if (contentType === APPLY_PATCH) throw unsupportedMediaType(['application/apply-patch+yaml (JSON syntax only in this fake)'])
      throw badRequest(`error decoding patch: ${(error as Error).message}`)
    }
    if (contentType === APPLY_PATCH) return this.serverSideApply(route, patch, query, dryRun)
    const old = this.mustGet(route)
    const current = route.subresource === 'scale' ? this.scaleOf(old) : this.withType(def, old)
    if (contentType === 'application/json-patch+json') {
      // A body that is not a list of operations is a 400: from the strict decode into
      // []handlers.jsonPatchOp (fieldValidation Warn, the default, or Strict), else from jsonpatch.DecodePatch.
      const goType = (value: unknown) => (Array.isArray(value) ? 'array' : typeof value === 'boolean' ? 'bool' : typeof value)
      const strict = query.fieldValidation !== 'Ignore'
      const [list, element, prefix] = strict ? ['[]handlers.jsonPatchOp', 'handlers.jsonPatchOp', 'error decoding patch: '] : ['jsonpatch.Patch', 'jsonpatch.Operation', '']
      if (patch !== null && !Array.isArray(patch)) throw badRequest(`${prefix}json: cannot unmarshal ${goType(patch)} into Go value of type ${list}`)
      const operation = (patch ?? []).find((op: unknown) => op !== null && !isObject(op))
      if (operation !== undefined) throw badRequest(`${prefix}json: cannot unmarshal ${goType(operation)} into Go value of type ${element}`)
    }
    let next: Obj
    try {
      if (contentType === 'application/json-patch+json') next = applyJsonPatch(current, patch ?? [])
      else if (contentType === 'application/merge-patch+json') {
        if (!isObject(patch)) throw new PatchError('merge patch must be a JSON object')
        next = applyMergePatch(current, patch)
      } else next = applyStrategicMergePatch(current, patch)
    } catch (error) {
      if (!(error instanceof PatchError)) throw error
      // As kube-apiserver's NewGenericServerResponse(422, ...) without a resource: why the patch
      // did not apply (a failed `test`, a missing path) is not told, and details stay empty.
      throw new ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request', {})
    }
    if (!isObject(next)) throw badRequest('the patched object is not a JSON object')
    if (route.subresource === 'scale') return {code: 200, body: this.commitScale(route, old, next, dryRun)}
    this.checkTypeMeta(def, next)
    this.checkFields(def, next, query)
    normalizeSecretPayload(def, next)
    return {code: 200, body: this.commitUpdate(route, old, next, dryRun)}
  }

  /**
   * Server-side apply, approximated: creates a missing object, otherwise
   * strategic-merges the applied configuration. Field ownership is not
   * tracked, so fields a manager stops applying are kept rather than removed.
   */
  private serverSideApply(route: Route, config: unknown, query: Record<string, string>, dryRun: boolean): Reply {
    const {def} = route
    if (!query.fieldManager) throw badRequest('PATCH, application/apply-patch+yaml requires fieldManager to be set')
    if (!isObject(config)) throw badRequest('error decoding YAML: the applied configuration is not an object')
    if (!config.apiVersion || !config.kind) throw badRequest('apiVersion and kind must be set in an applied configuration')
    this.checkTypeMeta(def, config)
    this.checkFields(def, config, query)
    normalizeSecretPayload(def, config)
    if (route.subresource) throw unsupportedMediaType(['application/json-patch+json', 'application/merge-patch+json'])
    const key = storeKey(def, def.namespaced ? route.namespace : undefined, route.name!)
    const old = this.store.get(key)
    if (!old) {
      if (config.metadata?.name !== undefined && config.metadata.name !== route.name) {
        throw badRequest(`the name of the object (${config.metadata.name}) does not match the name on the URL (${route.name})`)
      }
      return this.create({...route, name: undefined}, {...config, metadata: {...config.metadata, name: route.name}}, dryRun)
    }
    let next: Obj
    try {
      next = applyStrategicMergePatch(this.withType(def, old), config)
    } catch (error) {
      if (error instanceof PatchError) throw badRequest(error.message)
      throw error
    }
    return {code: 200, body: this.commitUpdate(route, old, next, dryRun)}
  }

  private delete(route: Route, dryRun: boolean): Obj {
    const {def} = route
    const old = this.mustGet(route)
    const result = this.withType(def, old)
    if (def === NAMESPACES) {
      result.metadata.deletionTimestamp = timestamp()
      result.status = {...result.status, phase: 'Terminating'}
    }
    if (dryRun) return result
    const remove = (d: ResourceDef, obj: Obj) => {
      this.store.delete(storeKey(d, obj.metadata.namespace, obj.metadata.name))
      this.record('DELETED', d, {...obj, metadata: {...obj.metadata, resourceVersion: this.nextResourceVersion()}})
    }
    // The namespace controller would empty it eventually; doing it at once keeps tests deterministic.
    if (def === NAMESPACES) {
      for (const d of RESOURCES.filter((r) => r.namespaced)) for (const obj of this.select(d, old.metadata.name)) remove(d, obj)
    }
    remove(def, old)
    return result
  }

  // ---------------------------------------------------------------- watch

  private record(type: WatchEvent['type'], def: ResourceDef, obj: Obj): void {
    const event: WatchEvent = {type, def, object: clone(obj), rv: Number(obj.metadata.resourceVersion)}
    this.events.push(event)
    if (this.events.length > MAX_EVENTS) this.compactedThrough = this.events.shift()!.rv
    for (const listener of this.watchers) listener(event)
  }

  /** A watch stream: one JSON event per line, like the real server's chunked JSON watch. */
  private watch(route: Route, query: Record<string, string>, res: http.ServerResponse): void {
    const {def} = route
    const all = this.filtered(route, query)
    const labels = parseLabelSelector(query.labelSelector)
    const fields = parseFieldSelector(query.fieldSelector, ['metadata.name', 'metadata.namespace', ...(def.fields ?? [])])
    const matches = (event: WatchEvent) =>
      event.def === def &&
      (route.allNamespaces || !def.namespaced || event.object.metadata.namespace === route.namespace) &&
      (route.name === undefined || event.object.metadata.name === route.name) &&
      matchesLabels(labels, event.object.metadata.labels) &&
      matchesFields(fields, event.object)
    res.writeHead(200, {'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked'})
    // Clients block until the headers arrive, and a quiet watch may not write for a long time.
    res.flushHeaders()
    const write = (type: string, object: Obj) => res.write(JSON.stringify({type, object}) + '\n')
    const since = query.resourceVersion
    if (since === undefined || since === '' || since === '0' || query.sendInitialEvents === 'true') {
      for (const obj of all) if (route.name === undefined || obj.metadata.name === route.name) write('ADDED', this.withType(def, obj))
      if (query.sendInitialEvents === 'true') {
        write('BOOKMARK', {kind: def.kind, apiVersion: apiVersionOf(def), metadata: {resourceVersion: String(this.resourceVersion), annotations: {'k8s.io/initial-events-end': 'true'}}})
      }
    } else {
      const from = Number(since)
      if (!Number.isInteger(from) || from < this.compactedThrough) {
        write('ERROR', new ApiError(410, 'Expired', `too old resource version: ${since} (${this.compactedThrough + 1})`).status())
        res.end()
        return
      }
      for (const event of this.events) if (event.rv > from && matches(event)) write(event.type, this.withType(def, event.object))
    }
    const listener = (event: WatchEvent) => {
      if (matches(event)) write(event.type, this.withType(def, event.object))
    }
    this.watchers.add(listener)
    const timeout = Number(query.timeoutSeconds)
    const timer = Number.isFinite(timeout) && timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined
    res.on('close', () => {
      this.watchers.delete(listener)
      if (timer) clearTimeout(timer)
    })
  }

  private filtered(route: Route, query: Record<string, string>, atVersion?: number): Obj[] {
    const {def} = route
    let labels
    let fields
    try {
      labels = parseLabelSelector(query.labelSelector)
      fields = parseFieldSelector(query.fieldSelector, ['metadata.name', 'metadata.namespace', ...(def.fields ?? [])])
    } catch (error) {
      if (error instanceof SelectorError) throw badRequest(error.message)
      throw error
    }
    const namespace = route.allNamespaces ? undefined : route.namespace
    const objects = atVersion === undefined ? this.select(def, namespace) : this.selectAt(def, namespace, atVersion)
    if (!objects) throw new ApiError(410, 'Expired', CONTINUE_EXPIRED)
    return objects.filter((o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o))
  }

  /**
   * A list as kube-apiserver serves it: items in storage key order (namespace, then name) without
   * their own apiVersion/kind; with `limit`, a continue token in the real format (base64url JSON
   * {"v","rv","start"}) and remainingItemCount, which the real server only gives when no selector
   * filters the list.
   */
  private list(route: Route, query: Record<string, string>): Obj {
    const {def} = route
    // The key relative to the listed prefix (/registry/<resource>/[<namespace>/]), as in real tokens.
    const keyOf = (obj: Obj) => (route.allNamespaces ? sortKey(obj) : obj.metadata.name)
    const token = query.continue ? decodeContinue(query.continue) : undefined
    // A continued list is served from the snapshot its first page was read at (rv -1: the latest).
    const snapshot = token && token.rv > 0 ? token.rv : undefined
    const version = snapshot ?? this.resourceVersion
    let items = this.filtered(route, query, snapshot)
    if (token) items = items.filter((o) => keyOf(o) >= token.start)
    const metadata: Obj = {resourceVersion: String(version)}
    const limit = Number(query.limit)
    if (Number.isInteger(limit) && limit > 0 && items.length > limit) {
      const remaining = items.length - limit
      items = items.slice(0, limit)
      metadata.continue = Buffer.from(JSON.stringify({v: 'meta.k8s.io/v1', rv: version, start: `${keyOf(items.at(-1)!)}\u0000`})).toString('base64url')
      if (!query.labelSelector && !query.fieldSelector) metadata.remainingItemCount = remaining
    }
    return {
      kind: `${def.kind}List`,
      apiVersion: apiVersionOf(def),
      metadata,
      items: items.map((o) => this.asListItem(o)),
    }
  }

  /** Items of a typed list carry no apiVersion/kind of their own on the wire. */
  private asListItem(obj: Obj): Obj {
    const {apiVersion: _apiVersion, kind: _kind, ...rest} = clone(obj)
    return rest
  }

  private deleteCollection(route: Route, query: Record<string, string>, dryRun: boolean): Obj {
    const {def} = route
    const items = this.filtered(route, query)
    if (!dryRun) {
      for (const obj of items) this.delete({...route, namespace: obj.metadata.namespace, name: obj.metadata.name}, false)
    }
    return {kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata: {resourceVersion: String(this.resourceVersion)}, items: items.map((o) => this.asListItem(o))}
  }
}

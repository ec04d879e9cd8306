// Pure helpers for the fake Kubernetes API server: the resource table, the
// three PATCH flavours the apiserver accepts, the label/field selector
// languages, object validation, discovery/OpenAPI documents and the protobuf
// request bodies kubectl sends. Kept apart from the HTTP code so they can be
// reasoned about (and unit-tested) on plain objects.

type Json = any

/** A patch that cannot be applied; the server turns it into a 422 like the real apiserver does. */
export class PatchError extends Error {}

/** A selector that cannot be parsed; the server turns it into a 400. */
export class SelectorError extends Error {}

export function clone<T>(value: T): T {
  return value === undefined ? value : structuredClone(value)
}

export function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]))
  }
  if (isObject(a) && isObject(b)) {
    const ak = Object.keys(a).filter((k) => a[k] !== undefined)
    const bk = Object.keys(b).filter((k) => b[k] !== undefined)
    return ak.length === bk.length && ak.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
  }
  return false
}

// ---------------------------------------------------------------- resources

export interface ResourceDef {
  group: string
  version: string
  resource: string
  singular: string
  kind: string
  namespaced: boolean
  shortNames?: string[]
  categories?: string[]
  /** fields a fieldSelector may use besides metadata.name / metadata.namespace */
  fields?: string[]
  /** the object has a spec whose changes bump metadata.generation */
  generation?: boolean
  /** served with a /status subresource: main-resource writes cannot change status */
  status?: boolean
  /** served with an autoscaling/v1 /scale subresource */
  scale?: boolean
}

export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']

export const RESOURCES: ResourceDef[] = [
  {group: '', version: 'v1', resource: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], fields: ['status.phase'], status: true},
  {group: '', version: 'v1', resource: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true, fields: ['type']},
  {group: '', version: 'v1', resource: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa']},
  {group: '', version: 'v1', resource: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ['all'], fields: ['spec.nodeName', 'spec.serviceAccountName', 'status.phase'], status: true},
  {group: '', version: 'v1', resource: 'services', singular: 'service', kind: 'Service', namespaced: true, shortNames: ['svc'], categories: ['all'], status: true},
  {group: '', version: 'v1', resource: 'nodes', singular: 'node', kind: 'Node', namespaced: false, shortNames: ['no'], fields: ['spec.unschedulable'], status: true},
  {group: '', version: 'v1', resource: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm']},
  {group: 'apps', version: 'v1', resource: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'], generation: true, status: true, scale: true},
  {group: 'apps', version: 'v1', resource: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'], categories: ['all'], generation: true, status: true},
  {group: 'apps', version: 'v1', resource: 'statefulsets', singular: 'statefulset', kind: 'StatefulSet', namespaced: true, shortNames: ['sts'], categories: ['all'], generation: true, status: true, scale: true},
  {group: 'apps', version: 'v1', resource: 'replicasets', singular: 'replicaset', kind: 'ReplicaSet', namespaced: true, shortNames: ['rs'], categories: ['all'], generation: true, status: true, scale: true},
  {group: 'batch', version: 'v1', resource: 'jobs', singular: 'job', kind: 'Job', namespaced: true, categories: ['all'], generation: true, fields: ['status.successful'], status: true},
  {group: 'batch', version: 'v1', resource: 'cronjobs', singular: 'cronjob', kind: 'CronJob', namespaced: true, shortNames: ['cj'], categories: ['all'], generation: true, status: true},
  {group: 'authorization.k8s.io', version: 'v1', resource: 'selfsubjectaccessreviews', singular: 'selfsubjectaccessreview', kind: 'SelfSubjectAccessReview', namespaced: false},
  {group: 'policy', version: 'v1', resource: 'poddisruptionbudgets', singular: 'poddisruptionbudget', kind: 'PodDisruptionBudget', namespaced: true, shortNames: ['pdb'], generation: true, status: true},
  {group: 'admissionregistration.k8s.io', version: 'v1', resource: 'validatingadmissionpolicies', singular: 'validatingadmissionpolicy', kind: 'ValidatingAdmissionPolicy', namespaced: false, categories: ['api-extensions'], generation: true, status: true},
  {group: 'admissionregistration.k8s.io', version: 'v1', resource: 'validatingadmissionpolicybindings', singular: 'validatingadmissionpolicybinding', kind: 'ValidatingAdmissionPolicyBinding', namespaced: false, categories: ['api-extensions'], generation: true},
]

export const GROUPS = [...new Set(RESOURCES.filter((r) => r.group !== '').map((r) => r.group))]

export const apiVersionOf = (def: ResourceDef) => (def.group ? `${def.group}/${def.version}` : def.version)
export const qualified = (def: ResourceDef) => (def.group ? `${def.resource}.${def.group}` : def.resource)
export const NAMESPACES = RESOURCES.find((r) => r.resource === 'namespaces')!
export const SERVICE_ACCOUNTS = RESOURCES.find((r) => r.resource === 'serviceaccounts')!


// ---------------------------------------------------------------- validation

/** A body the server cannot decode into its Go type; the server answers 400 like the real one. */
export class DecodeError extends Error {}

export interface StatusCause {
  reason: string
  message: string
  field: string
}

const quote = (value: unknown) => JSON.stringify(value)
const fieldInvalid = (field: string, value: unknown, detail: string): StatusCause => ({
  reason: 'FieldValueInvalid',
  message: `Invalid value: ${typeof value === 'string' ? quote(value) : JSON.stringify(value)}: ${detail}`,
  field,
})
export const fieldRequired = (field: string, detail = ''): StatusCause => ({reason: 'FieldValueRequired', message: `Required value${detail ? ': ' + detail : ''}`, field})
const fieldForbidden = (field: string, detail: string): StatusCause => ({reason: 'FieldValueForbidden', message: `Forbidden: ${detail}`, field})

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/

/**
 * metadata.name errors, as apimachinery's IsDNS1123Label / IsDNS1123Subdomain / IsDNS1035Label
 * report them: the length and the pattern are separate errors (both may apply), and a label that
 * would be a valid subdomain is told it "must not contain dots".
 */
export function nameErrors(def: ResourceDef, name: string, field = 'metadata.name'): StatusCause[] {
  const messages: string[] = []
  if (def.resource === 'namespaces') {
    if (name.length > 63) messages.push('must be no more than 63 characters')
    if (!DNS1123_LABEL.test(name)) {
      messages.push(DNS1123_SUBDOMAIN.test(name)
        ? 'must not contain dots'
        : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    }
  } else if (def.resource === 'services') {
    if (name.length > 63) messages.push('must be no more than 63 characters')
    if (!DNS1035_LABEL.test(name)) {
      messages.push("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
    }
  } else {
    if (name.length > 253) messages.push('must be no more than 253 characters')
    if (!DNS1123_SUBDOMAIN.test(name)) {
      messages.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    }
  }
  return messages.map((message) => fieldInvalid(field, name, message))
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Where Go's base64 decoder would give up, or undefined for valid standard base64. */
function base64ErrorAt(value: unknown): number | undefined {
  if (typeof value !== 'string') return 0
  if (BASE64.test(value)) return undefined
  const badChar = value.search(/[^A-Za-z0-9+/=]/)
  if (badChar >= 0) return badChar
  const padding = value.indexOf('=')
  if (padding >= 0 && padding < value.length - 2) return padding
  return value.length - (value.length % 4 || 4)
}

/**
 * Secret.data is []byte on the server, so bad base64 fails decoding (400), not validation (422).
 * stringData is write-only: folded into data and dropped, as the real conversion does.
 */
export function normalizeSecretPayload(def: ResourceDef, obj: Record<string, Json>): void {
  if (def.resource !== 'secrets') return
  if (obj.data !== undefined && obj.data !== null && !isObject(obj.data)) {
    throw new DecodeError(`Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal ${Array.isArray(obj.data) ? 'array' : typeof obj.data} into Go struct field Secret.data of type map[string][]uint8`)
  }
  for (const [key, value] of Object.entries(obj.data ?? {})) {
    const at = base64ErrorAt(value)
    if (at !== undefined) throw new DecodeError(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${at} (data[${key}])`)
  }
  if (isObject(obj.stringData)) {
    obj.data = {...obj.data}
    for (const [key, value] of Object.entries(obj.stringData)) obj.data[key] = Buffer.from(String(value), 'utf8').toString('base64')
  }
  delete obj.stringData
  if (obj.data === null) delete obj.data
}

/**
 * What a registry strategy's PrepareForCreate/PrepareForUpdate changes before validation:
 * ServiceAccount.secrets entries keep only their name (cleanSecretReferences).
 */
export function prepareForStorage(def: ResourceDef, obj: Record<string, Json>): void {
  if (def === SERVICE_ACCOUNTS && Array.isArray(obj.secrets)) {
    obj.secrets = obj.secrets.map((ref: Json) => (isObject(ref) && typeof ref.name === 'string' && ref.name !== '' ? {name: ref.name} : {}))
  }
}

export function validate(def: ResourceDef, obj: Record<string, Json>, old?: Record<string, Json>): StatusCause[] {
  const errors: StatusCause[] = []
  const name: string = obj.metadata?.name ?? ''
  errors.push(...nameErrors(def, name))
  if (def.resource === 'secrets' || def.resource === 'configmaps') {
    for (const section of def.resource === 'secrets' ? ['data'] : ['data', 'binaryData']) {
      for (const key of Object.keys(obj[section] ?? {})) {
        if (!CONFIG_KEY.test(key)) {
          errors.push(fieldInvalid(`${section}[${key}]`, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
        }
      }
    }
  }
  if (def.resource === 'secrets') errors.push(...secretTypeErrors(obj))
  if (old) {
    if (def.resource === 'secrets' && (obj.type ?? 'Opaque') !== (old.type ?? 'Opaque')) {
      errors.push(fieldInvalid('type', obj.type ?? 'Opaque', 'field is immutable'))
    }
    if ((def.resource === 'secrets' || def.resource === 'configmaps') && old.immutable === true) {
      if (obj.immutable !== true) errors.push(fieldForbidden('immutable', 'field is immutable when `immutable` is set'))
      if (!deepEqual(obj.data, old.data)) errors.push(fieldForbidden('data', 'field is immutable when `immutable` is set'))
      if (def.resource === 'configmaps' && !deepEqual(obj.binaryData, old.binaryData)) errors.push(fieldForbidden('binaryData', 'field is immutable when `immutable` is set'))
    }
  }
  return errors
}

function secretTypeErrors(secret: Record<string, Json>): StatusCause[] {
  const data: Record<string, string> = secret.data ?? {}
  const has = (key: string) => Object.hasOwn(data, key)
  const decoded = (key: string) => Buffer.from(data[key], 'base64').toString('utf8')
  const jsonError = (key: string): StatusCause | undefined => {
    try {
      const parsed = JSON.parse(decoded(key))
      if (!isObject(parsed)) throw new Error(`json: cannot unmarshal ${Array.isArray(parsed) ? 'array' : typeof parsed} into Go value of type map[string]interface {}`)
      return undefined
    } catch (error) {
      return fieldInvalid(`data[${key}]`, '<secret contents redacted>', (error as Error).message)
    }
  }
  const errors: StatusCause[] = []
  switch (secret.type) {
    case 'kubernetes.io/dockerconfigjson':
      if (!has('.dockerconfigjson')) errors.push(fieldRequired('data[.dockerconfigjson]'))
      else {
        const error = jsonError('.dockerconfigjson')
        if (error) errors.push(error)
      }
      break
    case 'kubernetes.io/dockercfg':
      if (!has('.dockercfg')) errors.push(fieldRequired('data[.dockercfg]'))
      else {
        const error = jsonError('.dockercfg')
        if (error) errors.push(error)
      }
      break
    case 'kubernetes.io/basic-auth':
      if (!has('username') && !has('password')) errors.push(fieldRequired('data[username]'), fieldRequired('data[password]'))
      break
    case 'kubernetes.io/ssh-auth':
      if (!has('ssh-privatekey')) errors.push(fieldRequired('data[ssh-privatekey]'))
      break
    case 'kubernetes.io/tls':
      if (!has('tls.key')) errors.push(fieldRequired('data[tls.key]'))
      if (!has('tls.crt')) errors.push(fieldRequired('data[tls.crt]'))
      break
    case 'kubernetes.io/service-account-token':
      if (!secret.metadata?.annotations?.['kubernetes.io/service-account.name']) {
        errors.push(fieldRequired('metadata.annotations[kubernetes.io/service-account.name]'))
      }
      break
  }
  return errors
}


const OBJECT_META_FIELDS = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp',
  'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
])
const TOP_LEVEL_FIELDS: Record<string, string[]> = {
  Secret: ['data', 'stringData', 'type', 'immutable'],
  ConfigMap: ['data', 'binaryData', 'immutable'],
  ServiceAccount: ['secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
  ValidatingAdmissionPolicyBinding: ['spec'],
}

/**
 * Fields the real server's Go types have no place for: it drops them (with a
 * warning) or, under fieldValidation=Strict, refuses the request. Only the top
 * level and metadata are checked; nested spec fields are not modelled.
 */
export function unknownFields(def: ResourceDef, obj: Record<string, Json>): string[] {
  const known = new Set(['apiVersion', 'kind', 'metadata', ...(TOP_LEVEL_FIELDS[def.kind] ?? ['spec', 'status'])])
  const unknown = Object.keys(obj).filter((k) => !known.has(k))
  if (isObject(obj.metadata)) unknown.push(...Object.keys(obj.metadata).filter((k) => !OBJECT_META_FIELDS.has(k)).map((k) => `metadata.${k}`))
  return unknown
}

// ---------------------------------------------------------------- discovery

export function discoveryDocument(segments: string[]): Json | undefined {
  const joined = segments.join('/')
  if (joined === 'version') {
    return {
      major: '1',
      minor: '32',
      gitVersion: 'v1.32.0',
      gitCommit: '70d3cc986aa8221cd1dfb1121852688902d3bf53',
      gitTreeState: 'clean',
      buildDate: '2024-12-11T17:59:15Z',
      goVersion: 'go1.23.3',
      compiler: 'gc',
      platform: 'linux/amd64',
    }
  }
  const serverAddress = [{clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1'}]
  if (joined === 'api') return {kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: serverAddress}
  const groupEntry = (group: string) => {
    const version = RESOURCES.find((r) => r.group === group)!.version
    const gv = {groupVersion: `${group}/${version}`, version}
    return {name: group, versions: [gv], preferredVersion: gv}
  }
  if (joined === 'apis') return {kind: 'APIGroupList', apiVersion: 'v1', groups: GROUPS.map(groupEntry)}
  if (segments[0] === 'apis' && segments.length === 2 && GROUPS.includes(segments[1])) {
    return {kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(segments[1])}
  }
  let group: string | undefined
  let version: string | undefined
  if (segments[0] === 'api' && segments.length === 2) [group, version] = ['', segments[1]]
  if (segments[0] === 'apis' && segments.length === 3) [group, version] = [segments[1], segments[2]]
  if (group === undefined) return undefined
  const defs = RESOURCES.filter((r) => r.group === group && r.version === version)
  if (defs.length === 0) return undefined
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: defs.flatMap((def) => [
      {
        name: def.resource,
        singularName: def.singular,
        namespaced: def.namespaced,
        kind: def.kind,
        verbs: VERBS,
        ...(def.shortNames ? {shortNames: def.shortNames} : {}),
        ...(def.categories ? {categories: def.categories} : {}),
      },
      ...(def.scale ? [{name: `${def.resource}/scale`, singularName: '', namespaced: def.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update']}] : []),
      ...(def.status ? [{name: `${def.resource}/status`, singularName: '', namespaced: def.namespaced, kind: def.kind, verbs: ['get', 'patch', 'update']}] : []),
    ]),
  }
}


// kubectl apply/create -f download OpenAPI v3 to learn whether the server
// validates fields itself (the fieldValidation query parameter). Answering
// "yes" makes kubectl send fieldValidation=Strict instead of demanding full
// schemas. PATCH operations deliberately list no strategic-merge media type,
// so client-side apply computes its patch from kubectl's built-in Go types,
// which carry the real patch strategies.
const QUERY_PARAMS = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty', 'labelSelector', 'fieldSelector', 'limit', 'continue', 'resourceVersion', 'watch']

function groupVersionPath(def: ResourceDef): string {
  return def.group ? `apis/${def.group}/${def.version}` : `api/${def.version}`
}

export function openApiV3Document(segments: string[], hashOf: (text: string) => string): Json | undefined {
  const groupVersions = [...new Set(RESOURCES.map(groupVersionPath))]
  if (segments.length === 2) {
    const paths: Record<string, Json> = {}
    for (const gv of groupVersions) paths[gv] = {serverRelativeURL: `/openapi/v3/${gv}?hash=${hashOf(JSON.stringify(openApiV3Document(['openapi', 'v3', ...gv.split('/')], hashOf)))}`}
    return {paths}
  }
  const gv = segments.slice(2).join('/')
  if (!groupVersions.includes(gv)) return undefined
  const paths: Record<string, Json> = {}
  const schemas: Record<string, Json> = {}
  const parameters = QUERY_PARAMS.map((name) => ({name, in: 'query', schema: {type: 'string', uniqueItems: true}}))
  for (const def of RESOURCES.filter((r) => groupVersionPath(r) === gv)) {
    const gvk = {group: def.group, version: def.version, kind: def.kind}
    const schemaName = `io.k8s.fake.${def.group || 'core'}.${def.version}.${def.kind}`
    schemas[schemaName] = {type: 'object', 'x-kubernetes-group-version-kind': [gvk]}
    const ref = {$ref: `#/components/schemas/${schemaName}`}
    const op = (action: string, mediaTypes?: string[]) => ({
      operationId: `${action}${def.kind}`,
      parameters,
      ...(mediaTypes ? {requestBody: {content: Object.fromEntries(mediaTypes.map((m) => [m, {schema: ref}]))}} : {}),
      responses: {200: {description: 'OK', content: {'application/json': {schema: ref}}}},
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
    })
    const base = `/${gv}${def.namespaced ? '/namespaces/{namespace}' : ''}/${def.resource}`
    paths[base] = {get: op('list'), post: op('post', ['application/json']), delete: op('deletecollection')}
    paths[`${base}/{name}`] = {
      get: op('get'),
      put: op('put', ['application/json']),
      patch: op('patch', ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']),
      delete: op('delete'),
    }
  }
  return {openapi: '3.0.0', info: {title: 'Kubernetes', version: 'v1.32.0'}, paths, components: {schemas}}
}

// ---------------------------------------------------------------- RFC 6902

function parsePointer(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw new PatchError(`JSON pointer ${JSON.stringify(pointer)} does not start with "/"`)
  return pointer.slice(1).split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'))
}

function arrayIndex(token: string, length: number, allowEnd: boolean, path: string): number {
  if (allowEnd && token === '-') return length
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchError(`Unable to access invalid index: ${token} in ${path}`)
  const index = Number(token)
  if (index > length || (!allowEnd && index === length)) throw new PatchError(`Unable to access invalid index: ${index}: invalid index referenced`)
  return index
}

function resolveParent(doc: Json, tokens: string[], op: string, path: string): Json {
  let node = doc
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length, false, path)]
    else if (isObject(node) && Object.hasOwn(node, token)) node = node[token]
    else node = undefined
    if (node === undefined || node === null) throw new PatchError(`${op} operation does not apply: doc is missing path: "${path}": missing value`)
  }
  if (!Array.isArray(node) && !isObject(node)) throw new PatchError(`${op} operation does not apply: doc is missing path: "${path}": missing value`)
  return node
}

function getAt(doc: Json, path: string, op: string): Json {
  let node = doc
  for (const token of parsePointer(path)) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length, false, path)]
    else if (isObject(node) && Object.hasOwn(node, token)) node = node[token]
    else throw new PatchError(`${op} operation does not apply: doc is missing path: "${path}": missing value`)
  }
  return node
}

function addAt(doc: Json, path: string, value: Json, op = 'add'): Json {
  const tokens = parsePointer(path)
  if (tokens.length === 0) return clone(value)
  const parent = resolveParent(doc, tokens, op, path)
  const last = tokens.at(-1)!
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, path), 0, clone(value))
  else parent[last] = clone(value)
  return doc
}

function removeAt(doc: Json, path: string, op = 'remove'): Json {
  const tokens = parsePointer(path)
  if (tokens.length === 0) throw new PatchError(`${op} operation does not apply: cannot remove the whole document`)
  const parent = resolveParent(doc, tokens, op, path)
  const last = tokens.at(-1)!
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false, path), 1)
  else if (Object.hasOwn(parent, last)) delete parent[last]
  else throw new PatchError(`${op} operation does not apply: doc is missing key: ${path}: missing value`)
  return doc
}

export function applyJsonPatch(original: Json, operations: unknown): Json {
  if (!Array.isArray(operations)) throw new PatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch')
  let doc = clone(original)
  for (const operation of operations) {
    if (!isObject(operation)) throw new PatchError('json: cannot unmarshal into Go value of type jsonpatch.Operation')
    const {op, path, from, value} = operation
    if (typeof path !== 'string') throw new PatchError(`${op} operation does not apply: missing path`)
    if (['add', 'replace', 'test'].includes(op) && !Object.hasOwn(operation, 'value')) {
      throw new PatchError(`${op} operation does not apply: missing value`)
    }
    switch (op) {
      case 'add':
        doc = addAt(doc, path, value)
        break
      case 'remove':
        doc = removeAt(doc, path)
        break
      case 'replace':
        getAt(doc, path, 'replace')
        if (path === '') doc = clone(value)
        else doc = addAt(removeAt(doc, path, 'replace'), path, value, 'replace')
        break
      case 'move': {
        if (typeof from !== 'string') throw new PatchError('move operation does not apply: missing from')
        if (path.startsWith(from + '/')) throw new PatchError(`move operation does not apply: cannot move ${from} into its own child ${path}`)
        const moved = getAt(doc, from, 'move')
        doc = addAt(removeAt(doc, from, 'move'), path, moved, 'move')
        break
      }
      case 'copy': {
        if (typeof from !== 'string') throw new PatchError('copy operation does not apply: missing from')
        doc = addAt(doc, path, getAt(doc, from, 'copy'), 'copy')
        break
      }
      case 'test': {
        let actual: Json
        try {
          actual = getAt(doc, path, 'test')
        } catch {
          throw new PatchError(`testing value ${path} failed: test failed`)
        }
        if (!deepEqual(actual, value)) throw new PatchError(`testing value ${path} failed: test failed`)
        break
      }
      default:
        throw new PatchError(`Unexpected kind: ${String(op)}`)
    }
  }
  return doc
}

// ---------------------------------------------------------------- RFC 7386

export function applyMergePatch(original: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch)
  const result: Record<string, Json> = isObject(original) ? clone(original) : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = applyMergePatch(result[key], value)
  }
  return result
}

// ---------------------------------------------------------------- strategic merge

// Where the schema says a list merges by key. Real Kubernetes derives this from
// struct tags; only the shapes the plugin touches are modelled, every other list
// (including ServiceAccount.imagePullSecrets, +listType=atomic) is replaced whole.
type SchemaNode = 'object' | 'podSpec' | 'container' | 'podTemplate' | 'jobTemplate' | 'workloadSpec' | 'cronJobSpec' | 'jobTemplateSpec'

interface ListRule {
  key: string
  element: SchemaNode
}

const LIST_RULES: Partial<Record<SchemaNode, Record<string, ListRule>>> = {
  podSpec: {
    containers: {key: 'name', element: 'container'},
    initContainers: {key: 'name', element: 'container'},
    ephemeralContainers: {key: 'name', element: 'container'},
    volumes: {key: 'name', element: 'object'},
    imagePullSecrets: {key: 'name', element: 'object'},
  },
  container: {
    env: {key: 'name', element: 'object'},
    volumeMounts: {key: 'mountPath', element: 'object'},
    ports: {key: 'containerPort', element: 'object'},
  },
}

const CHILDREN: Partial<Record<SchemaNode, Record<string, SchemaNode>>> = {
  workloadSpec: {template: 'podTemplate'},
  podTemplate: {spec: 'podSpec'},
  cronJobSpec: {jobTemplate: 'jobTemplateSpec'},
  jobTemplateSpec: {spec: 'workloadSpec'},
}

/** Keyed lists at the top level of an object, by kind (ServiceAccount.secrets: patchMergeKey=name). */
const ROOT_LIST_RULES: Record<string, Record<string, ListRule>> = {
  ServiceAccount: {secrets: {key: 'name', element: 'object'}},
}

export function rootSchema(kind: string | undefined): Record<string, SchemaNode> {
  switch (kind) {
    case 'Pod':
      return {spec: 'podSpec'}
    case 'PodTemplate':
      return {template: 'podTemplate'}
    case 'Deployment':
    case 'DaemonSet':
    case 'StatefulSet':
    case 'ReplicaSet':
    case 'Job':
    case 'ReplicationController':
      return {spec: 'workloadSpec'}
    case 'CronJob':
      return {spec: 'cronJobSpec'}
    default:
      return {}
  }
}

const DIRECTIVE = '$patch'
const RETAIN_KEYS = '$retainKeys'
const SET_ORDER_PREFIX = '$setElementOrder/'
const DELETE_PRIMITIVE_PREFIX = '$deleteFromPrimitiveList/'

function mergeMap(original: Json, patch: Record<string, Json>, children: Record<string, SchemaNode>, rules: Record<string, ListRule>): Json {
  if (patch[DIRECTIVE] === 'replace') {
    const {[DIRECTIVE]: _ignored, ...rest} = patch
    return stripDirectives(rest)
  }
  if (patch[DIRECTIVE] === 'delete') return undefined
  if (patch[DIRECTIVE] !== undefined) throw new PatchError(`Unknown patch type: ${patch[DIRECTIVE]} in map: ${JSON.stringify(patch)}`)
  let result: Record<string, Json> = isObject(original) ? clone(original) : {}
  if (Array.isArray(patch[RETAIN_KEYS])) {
    const keep = new Set(patch[RETAIN_KEYS] as string[])
    result = Object.fromEntries(Object.entries(result).filter(([k]) => keep.has(k)))
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key === RETAIN_KEYS || key.startsWith(SET_ORDER_PREFIX)) continue
    if (key.startsWith(DELETE_PRIMITIVE_PREFIX)) {
      const field = key.slice(DELETE_PRIMITIVE_PREFIX.length)
      if (Array.isArray(result[field]) && Array.isArray(value)) {
        result[field] = result[field].filter((item: Json) => !value.some((v) => deepEqual(v, item)))
      }
      continue
    }
    if (value === null) {
      delete result[key]
      continue
    }
    const rule = rules[key]
    if (Array.isArray(value)) {
      result[key] = rule ? mergeKeyedList(result[key], value, rule) : stripDirectives(value)
    } else if (isObject(value)) {
      const merged = strategicMerge(result[key], value, children[key] ?? 'object')
      if (merged === undefined) delete result[key]
      else result[key] = merged
    } else {
      result[key] = value
    }
  }
  return result
}

/**
 * A list merged by `rule.key`, in the order apimachinery's strategicpatch gives it
 * (mergeSlice → normalizeElementOrder → mergeSortedSlice): the patch's items in the patch's order,
 * with the items only the server had slotted in where their place in the live list puts them
 * before a patched item that was also live; items new to the list therefore come first
 * (live [a], patch [b] gives [b, a]).
 */
function mergeKeyedList(original: Json, patch: Json[], rule: ListRule): Json[] {
  if (patch.some((item) => isObject(item) && item[DIRECTIVE] === 'replace')) {
    return stripDirectives(patch.filter((item) => !(isObject(item) && item[DIRECTIVE] === 'replace')))
  }
  const keyOf = (item: Json) => (isObject(item) ? item[rule.key] : undefined)
  const indexIn = (list: Json[], item: Json) => list.findIndex((other) => isObject(other) && deepEqual(keyOf(other), keyOf(item)))
  let live: Json[] = Array.isArray(original) ? clone(original) : []
  const patchItems: Json[] = []
  for (const item of patch) {
    if (!isObject(item) || item[rule.key] === undefined) {
      throw new PatchError(`map: ${JSON.stringify(item)} does not contain declared merge key: ${rule.key}`)
    }
    if (item[DIRECTIVE] === 'delete') live = live.filter((existing) => !(isObject(existing) && deepEqual(keyOf(existing), item[rule.key])))
    else patchItems.push(item)
  }
  const merged = clone(live)
  for (const item of patchItems) {
    const index = indexIn(merged, item)
    if (index >= 0) merged[index] = strategicMerge(merged[index], item, rule.element)
    else merged.push(strategicMerge(undefined, item, rule.element))
  }
  const fromPatch = merged.filter((item) => indexIn(patchItems, item) >= 0).sort((a, b) => indexIn(patchItems, a) - indexIn(patchItems, b))
  const serverOnly = merged.filter((item) => indexIn(patchItems, item) < 0)
  const result: Json[] = []
  let i = 0
  let j = 0
  while (i < serverOnly.length || j < fromPatch.length) {
    if (j >= fromPatch.length) result.push(serverOnly[i++])
    else if (i >= serverOnly.length) result.push(fromPatch[j++])
    else {
      const left = indexIn(live, serverOnly[i])
      const right = indexIn(live, fromPatch[j])
      if (left >= 0 && right >= 0 && left < right) result.push(serverOnly[i++])
      else result.push(fromPatch[j++])
    }
  }
  return result
}

function stripDirectives(value: Json): Json {
  if (Array.isArray(value)) return value.map(stripDirectives)
  if (!isObject(value)) return value
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(value)) {
    if (k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(SET_ORDER_PREFIX) || k.startsWith(DELETE_PRIMITIVE_PREFIX)) continue
    if (v !== null) out[k] = stripDirectives(v)
  }
  return out
}

/**
 * Strategic merge patch for the node type `node`; call with the object's kind via
 * `applyStrategicMergePatch` for whole objects.
 */
function strategicMerge(original: Json, patch: Json, node: SchemaNode): Json {
  if (!isObject(patch)) return clone(patch)
  return mergeMap(original, patch, CHILDREN[node] ?? {}, LIST_RULES[node] ?? {})
}

export function applyStrategicMergePatch(original: Json, patch: Json): Json {
  if (!isObject(patch)) throw new PatchError('unable to find api field in struct for the patch: patch must be a JSON object')
  const kind = isObject(original) ? original.kind : undefined
  const merged = mergeMap(original, patch, rootSchema(kind), (kind && ROOT_LIST_RULES[kind]) || {})
  return merged ?? {}
}

// ---------------------------------------------------------------- label selectors

export type Requirement =
  | {key: string; op: 'in' | 'notin'; values: string[]}
  | {key: string; op: 'exists' | '!exists'}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

function checkKey(key: string): string {
  if (!LABEL_KEY.test(key)) throw new SelectorError(`unable to parse requirement: invalid label key "${key}"`)
  return key
}

function checkValue(value: string): string {
  if (!LABEL_VALUE.test(value) || value.length > 63) throw new SelectorError(`unable to parse requirement: invalid label value: "${value}"`)
  return value
}

/** Splits on commas that are not inside `( … )`. */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = []
  let depth = 0
  let current = ''
  for (const ch of selector) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      parts.push(current)
      current = ''
    } else current += ch
  }
  parts.push(current)
  return parts.map((p) => p.trim())
}

export function parseLabelSelector(selector: string | undefined): Requirement[] {
  if (!selector || selector.trim() === '') return []
  return splitTopLevel(selector).map((part): Requirement => {
    if (part === '') throw new SelectorError(`found '', expected: identifier`)
    let m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(part)
    if (m) {
      const values = m[3].split(',').map((v) => checkValue(v.trim()))
      return {key: checkKey(m[1]), op: m[2] as 'in' | 'notin', values}
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part)
    if (m) {
      return {key: checkKey(m[1]), op: m[2] === '!=' ? 'notin' : 'in', values: [checkValue(m[3])]}
    }
    m = /^!\s*(\S+)$/.exec(part)
    if (m) return {key: checkKey(m[1]), op: '!exists'}
    if (/^\S+$/.test(part)) return {key: checkKey(part), op: 'exists'}
    throw new SelectorError(`unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=`)
  })
}

export function matchesLabels(requirements: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {}
  return requirements.every((r) => {
    const has = Object.hasOwn(l, r.key)
    switch (r.op) {
      case 'exists':
        return has
      case '!exists':
        return !has
      case 'in':
        return has && r.values.includes(l[r.key])
      case 'notin':
        return !has || !r.values.includes(l[r.key])
    }
  })
}

// ---------------------------------------------------------------- field selectors

export interface FieldRequirement {
  field: string
  equal: boolean
  value: string
}

export function parseFieldSelector(selector: string | undefined, supported: string[]): FieldRequirement[] {
  if (!selector || selector.trim() === '') return []
  return selector.split(',').map((part) => {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part)
    if (!m) throw new SelectorError(`invalid selector: '${selector}'; can't understand '${part}'`)
    if (!supported.includes(m[1])) throw new SelectorError(`field label not supported: ${m[1]}`)
    return {field: m[1], equal: m[2] !== '!=', value: m[3]}
  })
}

export function fieldValue(obj: Json, field: string): string {
  let node = obj
  for (const part of field.split('.')) node = isObject(node) ? node[part] : undefined
  return node === undefined || node === null ? '' : String(node)
}

export function matchesFields(requirements: FieldRequirement[], obj: Json): boolean {
  return requirements.every((r) => (fieldValue(obj, r.field) === r.value) === r.equal)
}

// ---------------------------------------------------------------- protobuf request bodies

// kubectl's typed generators (`kubectl create secret|configmap|namespace|
// serviceaccount|deployment|job|cronjob|service`) POST Kubernetes protobuf and do
// not fall back to JSON on 415, so the fake decodes that wire format for the
// kinds those generators produce. Field numbers come from k8s.io/api's
// generated.proto; fields not listed are skipped, which only loses data a
// generator never sets.
//
// Type mini-language: scalar ('string' | 'bytes' | 'int' | 'bool'), 'time',
// 'quantity', 'intstr', 'map:<scalar|quantity>', or a message name; a '[]'
// prefix repeats it, a '?' suffix marks a Go pointer (kept even when zero). A
// field named '' is embedded: its fields are merged into the parent, as Go's
// JSON encoding of an embedded struct does.
type FieldSpec = [name: string, type: string]

const PROTO: Record<string, Record<number, FieldSpec>> = {
  ObjectMeta: {
    1: ['name', 'string'], 2: ['generateName', 'string'], 3: ['namespace', 'string'], 5: ['uid', 'string'], 6: ['resourceVersion', 'string'],
    7: ['generation', 'int'], 8: ['creationTimestamp', 'time'], 9: ['deletionTimestamp', 'time'], 10: ['deletionGracePeriodSeconds', 'int?'],
    11: ['labels', 'map:string'], 12: ['annotations', 'map:string'], 13: ['ownerReferences', '[]OwnerReference'], 14: ['finalizers', '[]string'],
  },
  OwnerReference: {1: ['kind', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'], 5: ['apiVersion', 'string'], 6: ['controller', 'bool?'], 7: ['blockOwnerDeletion', 'bool?']},
  ObjectReference: {1: ['kind', 'string'], 2: ['namespace', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'], 5: ['apiVersion', 'string'], 6: ['resourceVersion', 'string'], 7: ['fieldPath', 'string']},
  LocalObjectReference: {1: ['name', 'string']},
  Empty: {},
  Secret: {1: ['metadata', 'ObjectMeta'], 2: ['data', 'map:bytes'], 3: ['type', 'string'], 4: ['stringData', 'map:string'], 5: ['immutable', 'bool?']},
  ConfigMap: {1: ['metadata', 'ObjectMeta'], 2: ['data', 'map:string'], 3: ['binaryData', 'map:bytes'], 4: ['immutable', 'bool?']},
  Namespace: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'NamespaceSpec'], 3: ['status', 'NamespaceStatus']},
  NamespaceSpec: {1: ['finalizers', '[]string']},
  NamespaceStatus: {1: ['phase', 'string']},
  ServiceAccount: {1: ['metadata', 'ObjectMeta'], 2: ['secrets', '[]ObjectReference'], 3: ['imagePullSecrets', '[]LocalObjectReference'], 4: ['automountServiceAccountToken', 'bool?']},
  Service: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'ServiceSpec'], 3: ['status', 'Empty']},
  ServiceSpec: {
    1: ['ports', '[]ServicePort'], 2: ['selector', 'map:string'], 3: ['clusterIP', 'string'], 4: ['type', 'string'], 5: ['externalIPs', '[]string'],
    7: ['sessionAffinity', 'string'], 8: ['loadBalancerIP', 'string'], 10: ['externalName', 'string'], 11: ['externalTrafficPolicy', 'string'],
    18: ['clusterIPs', '[]string'], 19: ['ipFamilies', '[]string'],
  },
  ServicePort: {1: ['name', 'string'], 2: ['protocol', 'string'], 3: ['port', 'int'], 4: ['targetPort', 'intstr'], 5: ['nodePort', 'int']},
  Pod: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'PodSpec'], 3: ['status', 'Empty']},
  Deployment: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'DeploymentSpec'], 3: ['status', 'Empty']},
  DeploymentSpec: {
    1: ['replicas', 'int?'], 2: ['selector', 'LabelSelector'], 3: ['template', 'PodTemplateSpec'], 4: ['strategy', 'DeploymentStrategy'],
    5: ['minReadySeconds', 'int'], 6: ['revisionHistoryLimit', 'int?'], 7: ['paused', 'bool'], 9: ['progressDeadlineSeconds', 'int?'],
  },
  DeploymentStrategy: {1: ['type', 'string'], 2: ['rollingUpdate', 'RollingUpdateDeployment']},
  RollingUpdateDeployment: {1: ['maxUnavailable', 'intstr'], 2: ['maxSurge', 'intstr']},
  Job: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'JobSpec'], 3: ['status', 'Empty']},
  JobSpec: {
    1: ['parallelism', 'int?'], 2: ['completions', 'int?'], 3: ['activeDeadlineSeconds', 'int?'], 4: ['selector', 'LabelSelector'], 5: ['manualSelector', 'bool?'],
    6: ['template', 'PodTemplateSpec'], 7: ['backoffLimit', 'int?'], 8: ['ttlSecondsAfterFinished', 'int?'], 9: ['completionMode', 'string?'], 10: ['suspend', 'bool?'],
  },
  CronJob: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'CronJobSpec'], 3: ['status', 'Empty']},
  CronJobSpec: {
    1: ['schedule', 'string'], 2: ['startingDeadlineSeconds', 'int?'], 3: ['concurrencyPolicy', 'string'], 4: ['suspend', 'bool?'], 5: ['jobTemplate', 'JobTemplateSpec'],
    6: ['successfulJobsHistoryLimit', 'int?'], 7: ['failedJobsHistoryLimit', 'int?'], 8: ['timeZone', 'string?'],
  },
  JobTemplateSpec: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'JobSpec']},
  LabelSelector: {1: ['matchLabels', 'map:string'], 2: ['matchExpressions', '[]LabelSelectorRequirement']},
  LabelSelectorRequirement: {1: ['key', 'string'], 2: ['operator', 'string'], 3: ['values', '[]string']},
  PodTemplateSpec: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'PodSpec']},
  PodSpec: {
    1: ['volumes', '[]Volume'], 2: ['containers', '[]Container'], 3: ['restartPolicy', 'string'], 4: ['terminationGracePeriodSeconds', 'int?'],
    5: ['activeDeadlineSeconds', 'int?'], 6: ['dnsPolicy', 'string'], 7: ['nodeSelector', 'map:string'], 8: ['serviceAccountName', 'string'],
    9: ['serviceAccount', 'string'], 10: ['nodeName', 'string'], 11: ['hostNetwork', 'bool'], 12: ['hostPID', 'bool'], 13: ['hostIPC', 'bool'],
    15: ['imagePullSecrets', '[]LocalObjectReference'], 16: ['hostname', 'string'], 17: ['subdomain', 'string'], 19: ['schedulerName', 'string'],
    20: ['initContainers', '[]Container'], 21: ['automountServiceAccountToken', 'bool?'], 24: ['priorityClassName', 'string'], 25: ['priority', 'int?'],
    30: ['enableServiceLinks', 'bool?'],
  },
  Container: {
    1: ['name', 'string'], 2: ['image', 'string'], 3: ['command', '[]string'], 4: ['args', '[]string'], 5: ['workingDir', 'string'],
    6: ['ports', '[]ContainerPort'], 7: ['env', '[]EnvVar'], 8: ['resources', 'ResourceRequirements'], 9: ['volumeMounts', '[]VolumeMount'],
    13: ['terminationMessagePath', 'string'], 14: ['imagePullPolicy', 'string'], 16: ['stdin', 'bool'], 17: ['stdinOnce', 'bool'], 18: ['tty', 'bool'],
    20: ['terminationMessagePolicy', 'string'],
  },
  ContainerPort: {1: ['name', 'string'], 2: ['hostPort', 'int'], 3: ['containerPort', 'int'], 4: ['protocol', 'string'], 5: ['hostIP', 'string']},
  EnvVar: {1: ['name', 'string'], 2: ['value', 'string'], 3: ['valueFrom', 'EnvVarSource']},
  EnvVarSource: {1: ['fieldRef', 'ObjectFieldSelector'], 3: ['configMapKeyRef', 'KeySelector'], 4: ['secretKeyRef', 'KeySelector']},
  ObjectFieldSelector: {1: ['apiVersion', 'string'], 2: ['fieldPath', 'string']},
  KeySelector: {1: ['', 'LocalObjectReference'], 2: ['key', 'string'], 3: ['optional', 'bool?']},
  ResourceRequirements: {1: ['limits', 'map:quantity'], 2: ['requests', 'map:quantity']},
  VolumeMount: {1: ['name', 'string'], 2: ['readOnly', 'bool'], 3: ['mountPath', 'string'], 4: ['subPath', 'string'], 5: ['mountPropagation', 'string?'], 6: ['subPathExpr', 'string']},
  Volume: {1: ['name', 'string'], 2: ['', 'VolumeSource']},
  VolumeSource: {
    1: ['hostPath', 'HostPathVolumeSource'], 2: ['emptyDir', 'EmptyDirVolumeSource'], 6: ['secret', 'SecretVolumeSource'],
    10: ['persistentVolumeClaim', 'PVCVolumeSource'], 19: ['configMap', 'ConfigMapVolumeSource'],
  },
  HostPathVolumeSource: {1: ['path', 'string'], 2: ['type', 'string?']},
  EmptyDirVolumeSource: {1: ['medium', 'string'], 2: ['sizeLimit', 'quantity']},
  SecretVolumeSource: {1: ['secretName', 'string'], 2: ['items', '[]KeyToPath'], 3: ['defaultMode', 'int?'], 4: ['optional', 'bool?']},
  ConfigMapVolumeSource: {1: ['', 'LocalObjectReference'], 2: ['items', '[]KeyToPath'], 3: ['defaultMode', 'int?'], 4: ['optional', 'bool?']},
  PVCVolumeSource: {1: ['claimName', 'string'], 2: ['readOnly', 'bool']},
  KeyToPath: {1: ['key', 'string'], 2: ['path', 'string'], 3: ['mode', 'int?']},
  TypeMeta: {1: ['apiVersion', 'string'], 2: ['kind', 'string']},
  Unknown: {1: ['typeMeta', 'TypeMeta'], 2: ['raw', 'raw'], 3: ['contentEncoding', 'string'], 4: ['contentType', 'string']},
  Quantity: {1: ['string', 'string']},
  IntOrString: {1: ['type', 'int'], 2: ['intVal', 'int'], 3: ['strVal', 'string']},
  Time: {1: ['seconds', 'int'], 2: ['nanos', 'int']},
  MapEntry: {1: ['key', 'raw'], 2: ['value', 'raw']},
}

/** The magic prefix of every Kubernetes protobuf body. */
export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00])

interface RawField {
  number: number
  wire: number
  value: bigint | Buffer
}

function readVarint(buf: Buffer, start: number): [bigint, number] {
  let result = 0n
  let shift = 0n
  let pos = start
  for (;;) {
    if (pos >= buf.length) throw new PatchError('protobuf: truncated varint')
    const byte = buf[pos++]
    result |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return [result, pos]
    shift += 7n
    if (shift > 70n) throw new PatchError('protobuf: varint too long')
  }
}

function readFields(buf: Buffer): RawField[] {
  const fields: RawField[] = []
  let pos = 0
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos)
    pos = afterKey
    const number = Number(key >> 3n)
    const wire = Number(key & 7n)
    if (wire === 0) {
      const [value, next] = readVarint(buf, pos)
      fields.push({number, wire, value})
      pos = next
    } else if (wire === 2) {
      const [length, next] = readVarint(buf, pos)
      const end = next + Number(length)
      if (end > buf.length) throw new PatchError('protobuf: truncated field')
      fields.push({number, wire, value: buf.subarray(next, end)})
      pos = end
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4
      fields.push({number, wire, value: buf.subarray(pos, pos + size)})
      pos += size
    } else throw new PatchError(`protobuf: unsupported wire type ${wire}`)
  }
  return fields
}

function decodeScalar(field: RawField, type: string): unknown {
  const bytes = () => {
    if (!Buffer.isBuffer(field.value)) throw new PatchError(`protobuf: field ${field.number} is not length-delimited`)
    return field.value
  }
  switch (type) {
    case 'string':
      return bytes().toString('utf8')
    case 'bytes':
      return bytes().toString('base64')
    case 'raw':
      return bytes()
    case 'int':
      if (typeof field.value !== 'bigint') throw new PatchError(`protobuf: field ${field.number} is not a varint`)
      return Number(BigInt.asIntN(64, field.value))
    case 'bool':
      return field.value !== 0n
    case 'quantity':
      return decodeMessage(bytes(), 'Quantity').string ?? '0'
    case 'intstr': {
      const v = decodeMessage(bytes(), 'IntOrString')
      return v.type === 1 ? (v.strVal ?? '') : (v.intVal ?? 0)
    }
    case 'time': {
      const t = decodeMessage(bytes(), 'Time')
      if (!t.seconds && !t.nanos) return undefined
      return new Date(Number(t.seconds ?? 0) * 1000).toISOString().replace(/\.\d+Z$/, 'Z')
    }
    default:
      return decodeMessage(bytes(), type)
  }
}

const isZero = (value: unknown) => value === '' || value === 0 || value === false || value === undefined

function decodeMessage(buf: Buffer, type: string): Record<string, Json> {
  const schema = PROTO[type]
  if (!schema) throw new PatchError(`protobuf: no schema for ${type}`)
  const out: Record<string, Json> = {}
  for (const field of readFields(buf)) {
    const spec = schema[field.number]
    if (!spec) continue
    const [name, rawType] = spec
    const repeated = rawType.startsWith('[]')
    const pointer = rawType.endsWith('?')
    const t = rawType.replace(/^\[\]/, '').replace(/\?$/, '')
    if (t.startsWith('map:')) {
      const entry = decodeMessage(field.value as Buffer, 'MapEntry')
      const key = (entry.key as Buffer | undefined)?.toString('utf8') ?? ''
      const value = decodeScalar({number: 2, wire: 2, value: (entry.value as Buffer | undefined) ?? Buffer.alloc(0)}, t.slice(4))
      out[name] = {...out[name], [key]: value}
      continue
    }
    const value = decodeScalar(field, t)
    if (name === '') Object.assign(out, value)
    else if (repeated) (out[name] ??= []).push(value)
    else if (!isZero(value) || (pointer && value !== undefined) || isObject(value)) out[name] = value
  }
  return out
}

/**
 * Decodes a `k8s\0`-prefixed runtime.Unknown envelope into the JSON form the
 * REST API would have received. Throws PatchError when the kind is not modelled.
 */
export function decodeKubeProtobuf(body: Buffer): Record<string, Json> {
  if (body.length < 4 || !body.subarray(0, 4).equals(PROTOBUF_MAGIC)) throw new PatchError('provided object is not a Kubernetes protobuf message: missing magic prefix')
  const envelope = decodeMessage(body.subarray(4), 'Unknown')
  const kind: string | undefined = envelope.typeMeta?.kind
  const apiVersion: string | undefined = envelope.typeMeta?.apiVersion
  if (!kind || !PROTO[kind] || !PROTO[kind][1] || PROTO[kind][1][1] !== 'ObjectMeta') {
    throw new PatchError(`no protobuf decoder in the fake API server for kind ${JSON.stringify(kind)}`)
  }
  return {apiVersion, kind, ...decodeMessage((envelope.raw as Buffer | undefined) ?? Buffer.alloc(0), kind)}
}

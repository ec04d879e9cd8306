// Lists as kube-apiserver serves them: selectors, pages and continue tokens, snapshots; and
// deletecollection, which deletes what a list selects.

import {ApiError, badRequest} from './errors.js'
import {clone, isObject, type Obj} from './json.js'
import {apiVersionOf} from './resources.js'
import type {Route} from './routes.js'
import {matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, SelectorError} from './selectors.js'
import {ObjectStore, sortKey} from './store.js'
import {deleteObject} from './writes.js'

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
  if (illegal >= 0 || token.length % 4 === 1)
    throw invalid(`: illegal base64 data at input byte ${illegal >= 0 ? illegal : token.length - 1}`)
  const data = Buffer.from(token, 'base64url')
  let parsed: unknown
  try {
    parsed = JSON.parse(data.toString('utf8'))
  } catch {
    const first = data.find((byte) => ![0x20, 0x09, 0x0a, 0x0d].includes(byte))
    if (first === undefined) throw invalid(': unexpected end of JSON input')
    if (!'{["tfn-0123456789'.includes(String.fromCharCode(first)))
      throw invalid(`: invalid character ${goQuoteChar(first)} looking for beginning of value`)
    throw invalid(': not valid JSON')
  }
  if (parsed !== null && !isObject(parsed)) {
    const goType = Array.isArray(parsed) ? 'array' : typeof parsed === 'boolean' ? 'bool' : typeof parsed
    throw invalid(`: json: cannot unmarshal ${goType} into Go value of type storage.continueToken`)
  }
  const fields = (parsed ?? {}) as {v?: unknown; rv?: unknown; start?: unknown}
  if (fields.v !== 'meta.k8s.io/v1')
    throw invalid(`: server does not recognize this encoded version ${typeof fields.v === 'string' ? fields.v : ''}`)
  if (typeof fields.rv !== 'number' || !Number.isInteger(fields.rv) || fields.rv === 0)
    throw invalid(': incorrect encoded start resourceVersion (version meta.k8s.io/v1)')
  if (typeof fields.start !== 'string' || fields.start === '')
    throw invalid(': encoded start key empty (version meta.k8s.io/v1)')
  return {start: fields.start, rv: fields.rv}
}

/** 410 for a continue token whose snapshot is gone (etcd3's continueExpired: this fake offers no inconsistent-continue token). */
const CONTINUE_EXPIRED =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'

export function filtered(store: ObjectStore, route: Route, query: Record<string, string>, atVersion?: number): Obj[] {
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
  const objects = atVersion === undefined ? store.select(def, namespace) : store.selectAt(def, namespace, atVersion)
  if (!objects) throw new ApiError(410, 'Expired', CONTINUE_EXPIRED)
  return objects.filter((o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o))
}

/**
 * A list as kube-apiserver serves it: items in storage key order (namespace, then name) without
 * their own apiVersion/kind; with `limit`, a continue token in the real format (base64url JSON
 * {"v","rv","start"}) and remainingItemCount, which the real server only gives when no selector
 * filters the list.
 */
export function list(store: ObjectStore, route: Route, query: Record<string, string>): Obj {
  const {def} = route
  // The key relative to the listed prefix (/registry/<resource>/[<namespace>/]), as in real tokens.
  const keyOf = (obj: Obj) => (route.allNamespaces ? sortKey(obj) : obj.metadata.name)
  const token = query.continue ? decodeContinue(query.continue) : undefined
  // A continued list is served from the snapshot its first page was read at (rv -1: the latest).
  const snapshot = token && token.rv > 0 ? token.rv : undefined
  const version = snapshot ?? store.resourceVersion
  let items = filtered(store, route, query, snapshot)
  if (token) items = items.filter((o) => keyOf(o) >= token.start)
  const metadata: Obj = {resourceVersion: String(version)}
  const limit = Number(query.limit)
  if (Number.isInteger(limit) && limit > 0 && items.length > limit) {
    const remaining = items.length - limit
    items = items.slice(0, limit)
    metadata.continue = Buffer.from(
      JSON.stringify({v: 'meta.k8s.io/v1', rv: version, start: `${keyOf(items.at(-1)!)}\u0000`}),
    ).toString('base64url')
    if (!query.labelSelector && !query.fieldSelector) metadata.remainingItemCount = remaining
  }
  return {
    kind: `${def.kind}List`,
    apiVersion: apiVersionOf(def),
    metadata,
    items: items.map((o) => asListItem(o)),
  }
}

/** Items of a typed list carry no apiVersion/kind of their own on the wire. */
export function asListItem(obj: Obj): Obj {
  const {apiVersion: _apiVersion, kind: _kind, ...rest} = clone(obj)
  return rest
}

export function deleteCollection(
  store: ObjectStore,
  route: Route,
  query: Record<string, string>,
  dryRun: boolean,
): Obj {
  const {def} = route
  const items = filtered(store, route, query)
  if (!dryRun) {
    for (const obj of items)
      deleteObject(store, {...route, namespace: obj.metadata.namespace, name: obj.metadata.name}, false)
  }
  return {
    kind: `${def.kind}List`,
    apiVersion: apiVersionOf(def),
    metadata: {resourceVersion: String(store.resourceVersion)},
    items: items.map((o) => asListItem(o)),
  }
}

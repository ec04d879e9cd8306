// Kubernetes strategic merge patch, for the list shapes the plugin touches.

import {clone, deepEqual, isObject, type Json} from './json.js'
import {PatchError} from './json-patch.js'

// Where the schema says a list merges by key. Real Kubernetes derives this from
// struct tags; only the shapes the plugin touches are modelled, every other list
// (including ServiceAccount.imagePullSecrets, +listType=atomic) is replaced whole.
type SchemaNode =
  | 'object'
  | 'podSpec'
  | 'container'
  | 'podTemplate'
  | 'jobTemplate'
  | 'workloadSpec'
  | 'cronJobSpec'
  | 'jobTemplateSpec'

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

function mergeMap(
  original: Json,
  patch: Record<string, Json>,
  children: Record<string, SchemaNode>,
  rules: Record<string, ListRule>,
): Json {
  if (patch[DIRECTIVE] === 'replace') {
    const {[DIRECTIVE]: _ignored, ...rest} = patch
    return stripDirectives(rest)
  }
  if (patch[DIRECTIVE] === 'delete') return undefined
  if (patch[DIRECTIVE] !== undefined)
    throw new PatchError(`Unknown patch type: ${patch[DIRECTIVE]} in map: ${JSON.stringify(patch)}`)
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
  const indexIn = (list: Json[], item: Json) =>
    list.findIndex((other) => isObject(other) && deepEqual(keyOf(other), keyOf(item)))
  let live: Json[] = Array.isArray(original) ? clone(original) : []
  const patchItems: Json[] = []
  for (const item of patch) {
    if (!isObject(item) || item[rule.key] === undefined) {
      throw new PatchError(`map: ${JSON.stringify(item)} does not contain declared merge key: ${rule.key}`)
    }
    if (item[DIRECTIVE] === 'delete')
      live = live.filter((existing) => !(isObject(existing) && deepEqual(keyOf(existing), item[rule.key])))
    else patchItems.push(item)
  }
  const merged = clone(live)
  for (const item of patchItems) {
    const index = indexIn(merged, item)
    if (index >= 0) merged[index] = strategicMerge(merged[index], item, rule.element)
    else merged.push(strategicMerge(undefined, item, rule.element))
  }
  const fromPatch = merged
    .filter((item) => indexIn(patchItems, item) >= 0)
    .sort((a, b) => indexIn(patchItems, a) - indexIn(patchItems, b))
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
    if (k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(SET_ORDER_PREFIX) || k.startsWith(DELETE_PRIMITIVE_PREFIX))
      continue
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
  if (!isObject(patch))
    throw new PatchError('unable to find api field in struct for the patch: patch must be a JSON object')
  const kind = isObject(original) ? original.kind : undefined
  const merged = mergeMap(original, patch, rootSchema(kind), (kind && ROOT_LIST_RULES[kind]) || {})
  return merged ?? {}
}

// PATCH requests: the four content types, their decoding errors and how a patch that does not
// apply is reported; server-side apply approximated.

import {ApiError, badRequest, unsupportedMediaType} from './errors.js'
import {isObject, type Obj} from './json.js'
import {applyJsonPatch, applyMergePatch, PatchError} from './json-patch.js'
import {checkFields, checkTypeMeta} from './request-bodies.js'
import {withType} from './resources.js'
import type {Reply, Route} from './routes.js'
import {ObjectStore, storeKey} from './store.js'
import {applyStrategicMergePatch} from './strategic-merge-patch.js'
import {normalizeSecretPayload} from './validation.js'
import {commitScale, commitUpdate, create, mustGet, scaleOf} from './writes.js'

const APPLY_PATCH = 'application/apply-patch+yaml'

export function patch(
  store: ObjectStore,
  route: Route,
  contentType: string | undefined,
  raw: Buffer,
  query: Record<string, string>,
  dryRun: boolean,
  warnings: string[],
): Reply {
  const {def} = route
  const types = [
    'application/json-patch+json',
    'application/merge-patch+json',
    'application/strategic-merge-patch+json',
    APPLY_PATCH,
  ]
  if (!contentType || !types.includes(contentType)) throw unsupportedMediaType(types)
  let patch: unknown
  try {
    patch = JSON.parse(raw.toString('utf8'))
  } catch (error) {
    // Server-side apply bodies may be YAML; only its JSON subset is understood here.
    if (contentType === APPLY_PATCH)
      throw unsupportedMediaType(['application/apply-patch+yaml (JSON syntax only in this fake)'])
    throw badRequest(`error decoding patch: ${(error as Error).message}`)
  }
  if (contentType === APPLY_PATCH) return serverSideApply(store, route, patch, query, dryRun, warnings)
  const old = mustGet(store, route)
  const current = route.subresource === 'scale' ? scaleOf(old) : withType(def, old)
  if (contentType === 'application/json-patch+json') {
    // A body that is not a list of operations is a 400: from the strict decode into
    // []handlers.jsonPatchOp (fieldValidation Warn, the default, or Strict), else from jsonpatch.DecodePatch.
    const goType = (value: unknown) =>
      Array.isArray(value) ? 'array' : typeof value === 'boolean' ? 'bool' : typeof value
    const strict = query.fieldValidation !== 'Ignore'
    const [list, element, prefix] = strict
      ? ['[]handlers.jsonPatchOp', 'handlers.jsonPatchOp', 'error decoding patch: ']
      : ['jsonpatch.Patch', 'jsonpatch.Operation', '']
    if (patch !== null && !Array.isArray(patch))
      throw badRequest(`${prefix}json: cannot unmarshal ${goType(patch)} into Go value of type ${list}`)
    const operation = (patch ?? []).find((op: unknown) => op !== null && !isObject(op))
    if (operation !== undefined)
      throw badRequest(`${prefix}json: cannot unmarshal ${goType(operation)} into Go value of type ${element}`)
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
  if (route.subresource === 'scale') return {code: 200, body: commitScale(store, route, old, next, dryRun)}
  checkTypeMeta(def, next)
  checkFields(def, next, query, warnings)
  normalizeSecretPayload(def, next)
  return {code: 200, body: commitUpdate(store, route, old, next, dryRun)}
}

/**
 * Server-side apply, approximated: creates a missing object, otherwise
 * strategic-merges the applied configuration. Field ownership is not
 * tracked, so fields a manager stops applying are kept rather than removed.
 */
export function serverSideApply(
  store: ObjectStore,
  route: Route,
  config: unknown,
  query: Record<string, string>,
  dryRun: boolean,
  warnings: string[],
): Reply {
  const {def} = route
  if (!query.fieldManager) throw badRequest('PATCH, application/apply-patch+yaml requires fieldManager to be set')
  if (!isObject(config)) throw badRequest('error decoding YAML: the applied configuration is not an object')
  if (!config.apiVersion || !config.kind)
    throw badRequest('apiVersion and kind must be set in an applied configuration')
  checkTypeMeta(def, config)
  checkFields(def, config, query, warnings)
  normalizeSecretPayload(def, config)
  if (route.subresource) throw unsupportedMediaType(['application/json-patch+json', 'application/merge-patch+json'])
  const key = storeKey(def, def.namespaced ? route.namespace : undefined, route.name!)
  const old = store.objects.get(key)
  if (!old) {
    if (config.metadata?.name !== undefined && config.metadata.name !== route.name) {
      throw badRequest(
        `the name of the object (${config.metadata.name}) does not match the name on the URL (${route.name})`,
      )
    }
    return create(
      store,
      {...route, name: undefined},
      {...config, metadata: {...config.metadata, name: route.name}},
      dryRun,
    )
  }
  let next: Obj
  try {
    next = applyStrategicMergePatch(withType(def, old), config)
  } catch (error) {
    if (error instanceof PatchError) throw badRequest(error.message)
    throw error
  }
  return {code: 200, body: commitUpdate(store, route, old, next, dryRun)}
}

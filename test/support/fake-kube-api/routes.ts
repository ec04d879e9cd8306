// From an HTTP request to a route (resource, namespace, name, subresource) and a verb, as
// kube-apiserver's request-info resolver does.

import {ApiError} from './errors.js'
import {type ResourceDef, RESOURCES} from './resources.js'

export type Reply = {code: number; body?: unknown; text?: string; watch?: Route}

export interface Route {
  def: ResourceDef
  namespace?: string
  name?: string
  subresource?: string
  /** a namespaced resource listed across all namespaces */
  allNamespaces: boolean
}

export function routeOf(segments: string[]): Route | undefined {
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
  const find = (resource: string) =>
    RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource)
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

export function verbOf(method: string, route: Route, query: Record<string, string>): string {
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

/** The dryRun query parameter; any value but All is refused as the real options validation does (422, after authorization). */
export function dryRunOf(method: string, query: Record<string, string>): boolean {
  if (query.dryRun === undefined) return false
  if (query.dryRun === 'All') return true
  const options = (
    {POST: 'CreateOptions', PUT: 'UpdateOptions', PATCH: 'PatchOptions', DELETE: 'DeleteOptions'} as Record<
      string,
      string
    >
  )[method]
  if (!options) return false
  const message = `Unsupported value: ${JSON.stringify([query.dryRun])}: supported values: "All"`
  throw new ApiError(422, 'Invalid', `${options}.meta.k8s.io "" is invalid: dryRun: ${message}`, {
    group: 'meta.k8s.io',
    kind: options,
    causes: [{reason: 'FieldValueNotSupported', message, field: 'dryRun'}],
  })
}

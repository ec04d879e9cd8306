// create, update (with /status and /scale), delete: the checks kube-apiserver makes before it
// stores an object, and what it stamps on it.

import {ApiError, badRequest, conflict, invalid, notFound} from './errors.js'
import {clone, deepEqual, isObject, type Obj} from './json.js'
import {apiVersionOf, NAMESPACES, qualified, type ResourceDef, RESOURCES, withType} from './resources.js'
import type {Route} from './routes.js'
import {ObjectStore, storeKey, timestamp} from './store.js'
import {fieldRequired, prepareForStorage, validate} from './validation.js'

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'
function randomSuffix(): string {
  let out = ''
  for (let i = 0; i < 5; i++) out += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)]
  return out
}

export function mustGet(store: ObjectStore, route: Route): Obj {
  const {def, namespace, name} = route
  const obj = store.objects.get(storeKey(def, def.namespaced ? namespace : undefined, name!))
  if (!obj) throw notFound(def, name!)
  return obj
}

/** Namespace from the URL wins; a different one in the body is a client bug the server refuses. */
export function placeInNamespace(route: Route, obj: Obj): void {
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

export function create(store: ObjectStore, route: Route, body: Obj, dryRun: boolean): {code: number; body: Obj} {
  const {def} = route
  placeInNamespace(route, body)
  const meta = body.metadata
  if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`
  // Admission (NamespaceLifecycle) refuses a missing namespace before validation runs.
  if (def.namespaced && !store.namespaceExists(route.namespace!)) throw notFound(NAMESPACES, route.namespace!)
  if (!meta.name) throw invalid(def, '', [fieldRequired('metadata.name', 'name or generateName is required')])
  prepareForStorage(def, body)
  const errors = validate(def, body)
  if (errors.length > 0) throw invalid(def, meta.name, errors)
  const key = storeKey(def, meta.namespace, meta.name)
  if (store.objects.has(key)) {
    throw new ApiError(409, 'AlreadyExists', `${qualified(def)} "${meta.name}" already exists`, {
      name: meta.name,
      group: def.group,
      kind: def.resource,
    })
  }
  for (const field of [
    'resourceVersion',
    'uid',
    'creationTimestamp',
    'deletionTimestamp',
    'generation',
    'managedFields',
    'selfLink',
  ])
    delete meta[field]
  // Status is owned by controllers: real strategies reset it on create.
  if (def.resource === 'pods') body.status = {phase: 'Pending', qosClass: 'BestEffort'}
  else if (def.status && def !== NAMESPACES && def.resource !== 'nodes') body.status = {}
  store.stamp(def, body, undefined, dryRun)
  if (!dryRun) {
    store.objects.set(key, body)
    store.record('ADDED', def, body)
    if (def === NAMESPACES) store.createDefaultServiceAccount(meta.name)
  }
  return {code: 201, body: withType(def, body)}
}

/** Shared tail of PUT and PATCH on an object or its /status: checks, validation, no-op detection, store. */
export function commitUpdate(store: ObjectStore, route: Route, old: Obj, next: Obj, dryRun: boolean): Obj {
  const {def} = route
  const name = route.name!
  if (!isObject(next.metadata)) next.metadata = {}
  if (next.metadata.name !== undefined && next.metadata.name !== name) {
    throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`)
  }
  next.metadata.name = name
  placeInNamespace(route, next)
  const rv = next.metadata.resourceVersion
  if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw conflict(def, name)
  if (next.metadata.uid !== undefined && next.metadata.uid !== '' && next.metadata.uid !== old.metadata.uid) {
    throw new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(def)} "${name}": Precondition failed: UID in precondition: ${next.metadata.uid}, UID in object meta: ${old.metadata.uid}`,
      {
        name,
        group: def.group,
        kind: def.resource,
      },
    )
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
  if (deepEqual(next, old)) return withType(def, old)
  store.stamp(def, next, old, dryRun)
  if (!dryRun) {
    store.objects.set(storeKey(def, next.metadata.namespace, name), next)
    store.record('MODIFIED', def, next)
  }
  return withType(def, next)
}

export function update(store: ObjectStore, route: Route, body: Obj, dryRun: boolean): Obj {
  const old = mustGet(store, route)
  if (route.subresource === 'scale') return commitScale(store, route, old, body, dryRun)
  return commitUpdate(store, route, old, body, dryRun)
}

/** autoscaling/v1 Scale view of a workload, as served on .../scale. */
export function scaleOf(obj: Obj): Obj {
  const matchLabels: Record<string, string> = obj.spec?.selector?.matchLabels ?? {}
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: {replicas: obj.spec?.replicas ?? 1},
    status: {
      replicas: obj.status?.replicas ?? 0,
      selector: Object.entries(matchLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    },
  }
}

export function commitScale(store: ObjectStore, route: Route, old: Obj, scale: Obj, dryRun: boolean): Obj {
  const rv = scale.metadata?.resourceVersion
  if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw conflict(route.def, route.name!)
  const replicas = scale.spec?.replicas
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new ApiError(
      422,
      'Invalid',
      `Scale.autoscaling "${route.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`,
      {
        name: route.name,
        group: 'autoscaling',
        kind: 'Scale',
        causes: [
          {
            reason: 'FieldValueInvalid',
            message: `Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`,
            field: 'spec.replicas',
          },
        ],
      },
    )
  }
  const next = clone(old)
  next.spec = {...next.spec, replicas}
  return scaleOf(commitUpdate(store, {...route, subresource: undefined}, old, next, dryRun))
}

export function deleteObject(store: ObjectStore, route: Route, dryRun: boolean): Obj {
  const {def} = route
  const old = mustGet(store, route)
  const result = withType(def, old)
  if (def === NAMESPACES) {
    result.metadata.deletionTimestamp = timestamp()
    result.status = {...result.status, phase: 'Terminating'}
  }
  if (dryRun) return result
  const remove = (d: ResourceDef, obj: Obj) => {
    store.objects.delete(storeKey(d, obj.metadata.namespace, obj.metadata.name))
    store.record('DELETED', d, {...obj, metadata: {...obj.metadata, resourceVersion: store.nextResourceVersion()}})
  }
  // The namespace controller would empty it eventually; doing it at once keeps tests deterministic.
  if (def === NAMESPACES) {
    for (const d of RESOURCES.filter((r) => r.namespaced))
      for (const obj of store.select(d, old.metadata.name)) remove(d, obj)
  }
  remove(def, old)
  return result
}

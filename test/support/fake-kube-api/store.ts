// The fake API server's storage: objects keyed as etcd keys them, resourceVersions, and the
// event log that watches replay and continued lists are rebuilt from.

import {randomUUID} from 'node:crypto'

import {clone, deepEqual, type Obj} from './json.js'
import {apiVersionOf, NAMESPACES, type ResourceDef, SERVICE_ACCOUNTS} from './resources.js'

export function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z')
}

export const storeKey = (def: ResourceDef, namespace: string | undefined, name: string) =>
  `${def.group}/${def.resource}/${namespace ?? ''}/${name}`
/** Where etcd keeps an object, below the resource's prefix: lists come back in this order. */
export const sortKey = (obj: Obj): string =>
  obj.metadata?.namespace ? `${obj.metadata.namespace}/${obj.metadata.name ?? ''}` : (obj.metadata?.name ?? '')
export const bySortKey = (a: Obj, b: Obj) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0)

const MAX_EVENTS = 2000

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED'
  def: ResourceDef
  object: Obj
  rv: number
}

export class ObjectStore {
  readonly objects = new Map<string, Obj>()
  resourceVersion = 1
  readonly events: WatchEvent[] = []
  /** resourceVersion of the newest event dropped from the replay log; older watches get 410 Gone */
  compactedThrough = 0
  readonly watchers = new Set<(event: WatchEvent) => void>()

  nextResourceVersion(): string {
    this.resourceVersion += 1
    return String(this.resourceVersion)
  }

  /** Server-owned metadata, as set on create (no `old`) or update. */
  stamp(def: ResourceDef, obj: Obj, old: Obj | undefined, dryRun = false): void {
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

  createDefaultServiceAccount(namespace: string): void {
    const key = storeKey(SERVICE_ACCOUNTS, namespace, 'default')
    if (this.objects.has(key)) return
    const sa: Obj = {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'default', namespace}}
    this.stamp(SERVICE_ACCOUNTS, sa, undefined)
    this.objects.set(key, sa)
    this.record('ADDED', SERVICE_ACCOUNTS, sa)
  }

  /** Sorted selections, kept until the next write (every write is recorded): a paginated list walks the store once, not once per page. */
  private readonly selections = new Map<string, readonly Obj[]>()

  /** The objects of `def` (in `namespace`) in storage key order; the array is shared: do not modify it. */
  select(def: ResourceDef, namespace?: string): Obj[] {
    const cacheKey = `${def.group}/${def.resource}/${def.namespaced && namespace !== undefined ? namespace : '*'}`
    const cached = this.selections.get(cacheKey)
    if (cached) return cached as Obj[]
    const prefix = `${def.group}/${def.resource}/`
    const out: Array<{key: string; obj: Obj}> = []
    for (const [key, obj] of this.objects) {
      if (!key.startsWith(prefix)) continue
      if (def.namespaced && namespace !== undefined && obj.metadata.namespace !== namespace) continue
      out.push({key: sortKey(obj), obj})
    }
    const sorted = out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map(({obj}) => obj)
    this.selections.set(cacheKey, sorted)
    return sorted
  }

  /**
   * The objects of `def` as they were at resourceVersion `rv` (what a continued list shows: the
   * snapshot of its first page), rebuilt from the event log; undefined when the log, trimmed to
   * MAX_EVENTS, no longer reaches back that far.
   */
  selectAt(def: ResourceDef, namespace: string | undefined, rv: number): Obj[] | undefined {
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
    return [...state.values()]
      .filter((o) => !def.namespaced || namespace === undefined || o.metadata.namespace === namespace)
      .sort(bySortKey)
  }

  namespaceExists(name: string): boolean {
    return this.objects.has(storeKey(NAMESPACES, undefined, name))
  }

  record(type: WatchEvent['type'], def: ResourceDef, obj: Obj): void {
    this.selections.clear()
    const event: WatchEvent = {type, def, object: clone(obj), rv: Number(obj.metadata.resourceVersion)}
    this.events.push(event)
    if (this.events.length > MAX_EVENTS) this.compactedThrough = this.events.shift()!.rv
    for (const listener of this.watchers) listener(event)
  }
}

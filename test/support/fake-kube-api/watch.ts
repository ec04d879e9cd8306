// Watches: one JSON event per line over a chunked response, replayed from the store's event log.

import type * as http from 'node:http'

import {ApiError} from './errors.js'
import type {Obj} from './json.js'
import {filtered} from './lists.js'
import {apiVersionOf, withType} from './resources.js'
import type {Route} from './routes.js'
import {matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector} from './selectors.js'
import {ObjectStore, type WatchEvent} from './store.js'

/** A watch stream: one JSON event per line, like the real server's chunked JSON watch. */
export function serveWatch(
  store: ObjectStore,
  route: Route,
  query: Record<string, string>,
  res: http.ServerResponse,
): void {
  const {def} = route
  const all = filtered(store, route, query)
  const labels = parseLabelSelector(query.labelSelector)
  const fields = parseFieldSelector(query.fieldSelector, ['metadata.name', 'metadata.namespace', ...(def.fields ?? [])])
  const matches = (event: WatchEvent) =>
    event.def === def &&
    (route.allNamespaces || !def.namespaced || event.object.metadata.namespace === route.namespace) &&
    (route.name === undefined || event.object.metadata.name === route.name) &&
    matchesLabels(labels, event.object.metadata.labels) &&
    matchesFields(fields, event.object)
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  })
  // Clients block until the headers arrive, and a quiet watch may not write for a long time.
  res.flushHeaders()
  const write = (type: string, object: Obj) => res.write(JSON.stringify({type, object}) + '\n')
  const since = query.resourceVersion
  if (since === undefined || since === '' || since === '0' || query.sendInitialEvents === 'true') {
    for (const obj of all)
      if (route.name === undefined || obj.metadata.name === route.name) write('ADDED', withType(def, obj))
    if (query.sendInitialEvents === 'true') {
      write('BOOKMARK', {
        kind: def.kind,
        apiVersion: apiVersionOf(def),
        metadata: {resourceVersion: String(store.resourceVersion), annotations: {'k8s.io/initial-events-end': 'true'}},
      })
    }
  } else {
    const from = Number(since)
    if (!Number.isInteger(from) || from < store.compactedThrough) {
      write(
        'ERROR',
        new ApiError(410, 'Expired', `too old resource version: ${since} (${store.compactedThrough + 1})`).status(),
      )
      res.end()
      return
    }
    for (const event of store.events)
      if (event.rv > from && matches(event)) write(event.type, withType(def, event.object))
  }
  const listener = (event: WatchEvent) => {
    if (matches(event)) write(event.type, withType(def, event.object))
  }
  store.watchers.add(listener)
  const timeout = Number(query.timeoutSeconds)
  const timer = Number.isFinite(timeout) && timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined
  res.on('close', () => {
    store.watchers.delete(listener)
    if (timer) clearTimeout(timer)
  })
}

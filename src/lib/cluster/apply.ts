import type {DryRun} from './objects.js'
import {apiStatusOf, type KubeClient} from './kube-client.js'
import type {PermissionCheck} from './rbac-preflight.js'

export type ApplyAction = 'created' | 'configured' | 'unchanged'

export interface AppliedObject {
  object: Record<string, any>
  action: ApplyAction
}

function resourceOf(object: Record<string, any>): string {
  const kind = String(object.kind).toLowerCase()
  return kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : `${kind}s`
}

/** What RBAC must allow for `verb` on this object (its resource, API group and namespace). */
export function permissionOn(verb: string, object: Record<string, any>): PermissionCheck {
  const apiVersion = String(object.apiVersion)
  const slash = apiVersion.indexOf('/')
  return {
    verb,
    resource: resourceOf(object),
    ...(slash === -1 ? {} : {group: apiVersion.slice(0, slash)}),
    ...(object.metadata?.namespace ? {namespace: object.metadata.namespace} : {}),
  }
}

function plain(value: unknown): any {
  return JSON.parse(JSON.stringify(value ?? null))
}

/** Every field of `wanted` (outside metadata/status) has the same value in `existing`. */
function containsAll(existing: any, wanted: any): boolean {
  if (wanted === null || typeof wanted !== 'object') return existing === wanted
  if (Array.isArray(wanted))
    return (
      Array.isArray(existing) &&
      existing.length === wanted.length &&
      wanted.every((item, i) => containsAll(existing[i], item))
    )
  return Object.entries(wanted).every(
    ([key, value]) => key === 'metadata' || key === 'status' || containsAll(existing?.[key], value),
  )
}

/** client-node's KubernetesObjectApi with the client's timeout and the context's default namespace. */
async function objectApi(client: KubeClient): Promise<import('./client-node.js').KubernetesObjectApi> {
  const {KubernetesObjectApi} = await import('./client-node.js')
  class ObjectApi extends KubernetesObjectApi {
    useContextNamespace(): this {
      this.setDefaultNamespace(client.kubeConfig)
      return this
    }
  }
  return client.api(ObjectApi).useContextNamespace()
}

/**
 * Create or update objects of any kind (through API discovery), in order. An object whose
 * fields already have the wanted values is left alone, so applying twice changes nothing.
 */
export async function applyObjects(
  client: KubeClient,
  objects: Array<Record<string, any>>,
  dryRun: DryRun,
): Promise<AppliedObject[]> {
  const api = await objectApi(client)
  const dry = dryRun === 'server' ? 'All' : undefined
  const results: AppliedObject[] = []
  for (const object of objects) {
    const where = {resource: resourceOf(object), namespace: object.metadata.namespace, name: object.metadata.name}
    let existing: Record<string, any> | undefined
    try {
      const key = {
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: {name: object.metadata.name, namespace: object.metadata.namespace},
      }
      // eslint-disable-next-line no-await-in-loop -- objects depend on each other (namespace first)
      existing = plain(await api.read(key))
    } catch (error) {
      // eslint-disable-next-line no-await-in-loop -- rethrows the read's failure, described like any call's
      if (apiStatusOf(error)?.code !== 404) await client.call({verb: 'get', ...where}, () => Promise.reject(error))
    }
    if (!existing) {
      // eslint-disable-next-line no-await-in-loop
      const created = await client.call({verb: 'create', ...where}, () => api.create(object, undefined, dry))
      results.push({object: plain(created), action: 'created'})
      continue
    }
    if (containsAll(existing, object) && containsAll(existing.metadata?.labels ?? {}, object.metadata?.labels ?? {})) {
      results.push({object: existing, action: 'unchanged'})
      continue
    }
    const body = {...object, metadata: {...object.metadata, resourceVersion: existing.metadata?.resourceVersion}}
    // eslint-disable-next-line no-await-in-loop
    const replaced = await client.call({verb: 'update', ...where}, () => api.replace(body, undefined, dry))
    results.push({object: plain(replaced), action: 'configured'})
  }
  return results
}

/** Delete objects (404 is fine: already gone); returns the ones that were there. */
export async function deleteObjects(
  client: KubeClient,
  objects: Array<Record<string, any>>,
): Promise<Array<Record<string, any>>> {
  const api = await objectApi(client)
  const deleted: Array<Record<string, any>> = []
  for (const object of objects) {
    try {
      // eslint-disable-next-line no-await-in-loop
      await api.delete({
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: {name: object.metadata.name, namespace: object.metadata.namespace},
      })
      deleted.push(object)
    } catch (error) {
      if (apiStatusOf(error)?.code !== 404) {
        // eslint-disable-next-line no-await-in-loop
        await client.call(
          {
            verb: 'delete',
            resource: resourceOf(object),
            namespace: object.metadata.namespace,
            name: object.metadata.name,
          },
          () => Promise.reject(error),
        )
      }
    }
  }
  return deleted
}

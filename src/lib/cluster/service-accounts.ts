import type {V1ServiceAccount} from '@kubernetes/client-node'

import {apiStatusOf, type KubeClient} from './kube-client.js'

export type AttachAction = 'attached' | 'unchanged'

const MAX_ATTEMPTS = 5

/**
 * Add `secretName` to a ServiceAccount's imagePullSecrets, keeping the entries it has.
 *
 * ServiceAccount.imagePullSecrets is an atomic list: a merge or strategic-merge patch replaces it
 * whole, so the widely copied `kubectl patch serviceaccount … -p '{"imagePullSecrets":[…]}'`
 * silently drops existing pull secrets. We read the account and send a JSON patch whose first
 * operation tests the resourceVersion we read; if someone changed the account in between, the
 * server refuses the patch and we read again.
 */
export async function attachPullSecret(
  client: KubeClient,
  options: {namespace: string; serviceAccount: string; secretName: string; dryRun: boolean},
): Promise<{action: AttachAction; serviceAccount: V1ServiceAccount}> {
  const {PatchStrategy, setHeaderOptions} = await import('./client-node.js')
  const {namespace, serviceAccount: name, secretName} = options
  for (let attempt = 1; ; attempt++) {
    // eslint-disable-next-line no-await-in-loop -- each retry depends on the previous read
    const current = await client.call({verb: 'get', resource: 'serviceaccounts', namespace, name}, () =>
      client.core.readNamespacedServiceAccount({name, namespace}),
    )
    const existing = current.imagePullSecrets ?? []
    if (existing.some((ref) => ref.name === secretName)) return {action: 'unchanged', serviceAccount: current}
    const patch = [
      {op: 'test', path: '/metadata/resourceVersion', value: current.metadata?.resourceVersion},
      current.imagePullSecrets
        ? {op: 'add', path: '/imagePullSecrets/-', value: {name: secretName}}
        : {op: 'add', path: '/imagePullSecrets', value: [{name: secretName}]},
    ]
    try {
      // eslint-disable-next-line no-await-in-loop
      const updated = await client.core.patchNamespacedServiceAccount(
        {name, namespace, body: patch, dryRun: options.dryRun ? 'All' : undefined},
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      )
      return {action: 'attached', serviceAccount: updated}
    } catch (error) {
      // A failed `test` is 422 (or 409 on some servers): the account changed under us. Re-read and retry.
      const code = apiStatusOf(error)?.code
      if ((code === 409 || code === 422) && attempt < MAX_ATTEMPTS) continue
      return client.call({verb: 'patch', resource: 'serviceaccounts', namespace, name}, () => Promise.reject(error))
    }
  }
}

import {UserError} from '../errors.js'
import {apiStatusOf, type KubeClient} from './kube-client.js'

export interface PermissionCheck {
  verb: string
  resource: string
  group?: string
  namespace?: string
}

/**
 * The permissions among `checks` that the current user lacks, asked with SelfSubjectAccessReviews
 * before anything is changed; undefined when the server cannot answer such reviews.
 */
export async function missingPermissions(client: KubeClient, checks: PermissionCheck[]): Promise<string[] | undefined> {
  const {AuthorizationV1Api} = await import('./client-node.js')
  const api = client.api(AuthorizationV1Api)
  const missing: string[] = []
  for (const check of checks) {
    try {
      // eslint-disable-next-line no-await-in-loop -- a handful of small reviews
      const review = await api.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: {
              verb: check.verb,
              resource: check.resource,
              group: check.group ?? '',
              namespace: check.namespace,
            },
          },
        },
      })
      if (!review.status?.allowed)
        missing.push(
          `${check.verb} ${check.resource}${check.group ? `.${check.group}` : ''}${check.namespace ? ` in namespace ${check.namespace}` : ''}`,
        )
    } catch (error) {
      if (apiStatusOf(error)?.code === 404) return undefined
      // Described like any call's failure (a timeout, a refused connection): one line naming the call.
      // eslint-disable-next-line no-await-in-loop
      await client.call({verb: 'create', resource: 'selfsubjectaccessreviews'}, () => Promise.reject(error))
    }
  }
  return missing
}

/**
 * Refuses, naming what is missing, when RBAC does not allow every check: `needs` says what needs
 * them, `fix` what the user can do. Nothing has been changed yet. A server that cannot answer
 * access reviews is not a refusal.
 */
export async function requirePermissions(
  client: KubeClient,
  checks: PermissionCheck[],
  needs: string,
  fix?: string,
): Promise<void> {
  const missing = await missingPermissions(client, checks)
  if (missing && missing.length > 0)
    throw new UserError(
      `RBAC does not allow you to ${missing.join(', ')}; ${needs} (nothing was changed)${fix ? `. ${fix}` : ''}`,
    )
}

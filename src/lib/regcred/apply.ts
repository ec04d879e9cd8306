// create-regcred against the cluster: the target namespaces, then per namespace the secret and
// its service accounts, everything checked before anything is created.
import {UserError} from '../errors.js'
import {apiStatusOf, type KubeClient, listAllPages} from '../cluster/kube-client.js'
import {missingPermissions} from '../cluster/rbac-preflight.js'
import {attachPullSecret} from '../cluster/service-accounts.js'
import type {KubeObject} from '../cluster/objects.js'
import {DOCKER_CONFIG_JSON_KEY} from '../image/docker-config.js'
import {buildRegcredSecret, type NamespaceResult, type RegcredOptions, type SecretAction} from './regcred.js'

export async function resolveNamespaces(options: RegcredOptions, client: KubeClient | undefined): Promise<string[]> {
  if (options.namespaces !== 'all') return [...new Set(options.namespaces)]
  if (!client) throw new UserError('-A/--all-namespaces needs the cluster to list namespaces')
  const namespaces = await client.call({verb: 'list', resource: 'namespaces'}, () =>
    listAllPages((page) => client.core.listNamespace(page)),
  )
  return namespaces.map((ns) => ns.metadata!.name!).filter(Boolean)
}

async function createOrUpdateSecret(
  client: KubeClient,
  secret: ReturnType<typeof buildRegcredSecret>,
  namespace: string,
  options: RegcredOptions,
): Promise<{action: SecretAction; secret: KubeObject}> {
  const dryRun = options.dryRun === 'server' ? 'All' : undefined
  const name = secret.metadata.name
  const body = {...secret, metadata: {name, namespace}}
  try {
    const created = await client.core.createNamespacedSecret({namespace, body, dryRun})
    return {action: 'created', secret: created as KubeObject}
  } catch (error) {
    const api = apiStatusOf(error)
    if (api?.code !== 409 || api.status.reason !== 'AlreadyExists') {
      return client.call({verb: 'create', resource: 'secrets', namespace, name}, () => Promise.reject(error))
    }
    if (!options.overwrite) {
      throw new UserError(`secret "${name}" already exists in namespace "${namespace}"; pass --overwrite to update it`)
    }
  }
  const existing = await client.call({verb: 'get', resource: 'secrets', namespace, name}, () =>
    client.core.readNamespacedSecret({name, namespace}),
  )
  if (existing.type !== secret.type) {
    throw new UserError(
      `secret "${name}" in namespace "${namespace}" has type ${existing.type ?? 'Opaque'}; a secret's type cannot change, so delete it first (kubectl delete secret ${name} -n ${namespace})`,
    )
  }
  const existingData = existing.data ?? {}
  if (
    Object.keys(existingData).length === 1 &&
    existingData[DOCKER_CONFIG_JSON_KEY] === secret.data[DOCKER_CONFIG_JSON_KEY]
  ) {
    return {action: 'unchanged', secret: existing as KubeObject}
  }
  // Replace guarded by the resourceVersion we read: a concurrent change gives a Conflict, not a lost update.
  const replaced = await client.call({verb: 'update', resource: 'secrets', namespace, name}, () =>
    client.core.replaceNamespacedSecret({
      name,
      namespace,
      dryRun,
      body: {...existing, data: secret.data, stringData: undefined},
    }),
  )
  return {action: 'configured', secret: replaced as KubeObject}
}

async function serviceAccountNames(
  client: KubeClient,
  namespace: string,
  attachTo: string[] | 'all',
): Promise<string[]> {
  if (attachTo !== 'all') return attachTo
  const accounts = await client.call({verb: 'list', resource: 'serviceaccounts', namespace}, () =>
    listAllPages((page) => client.core.listNamespacedServiceAccount({namespace, ...page})),
  )
  return accounts.map((sa) => sa.metadata!.name!)
}

/**
 * The service accounts the secret will be attached to, once it is known that they exist and that
 * the user may read and patch them: otherwise the namespace fails before its secret is created.
 */
async function attachableServiceAccounts(
  client: KubeClient,
  namespace: string,
  attachTo: string[] | 'all',
): Promise<string[]> {
  const missing = await missingPermissions(client, [
    {verb: 'get', resource: 'serviceaccounts', namespace},
    {verb: 'patch', resource: 'serviceaccounts', namespace},
  ])
  if (missing && missing.length > 0) {
    throw new UserError(
      `forbidden: RBAC does not allow you to ${missing.join(' or ')}, which --attach-to-sa needs; nothing was created`,
    )
  }
  const names = await serviceAccountNames(client, namespace, attachTo)
  if (attachTo !== 'all') {
    for (const name of names) {
      // eslint-disable-next-line no-await-in-loop -- a handful of accounts
      await client.call({verb: 'get', resource: 'serviceaccounts', namespace, name}, () =>
        client.core.readNamespacedServiceAccount({name, namespace}),
      )
    }
  }
  return names
}

/**
 * Create (or with --overwrite update) the pull secret in every target namespace and attach it to
 * service accounts. A failure in one namespace is reported and the others go on.
 */
export async function applyRegcred(
  options: RegcredOptions,
  client: KubeClient,
  payload: string,
  onResult?: (result: NamespaceResult) => void,
): Promise<NamespaceResult[]> {
  const results: NamespaceResult[] = []
  for (const namespace of await resolveNamespaces(options, client)) {
    const secret = buildRegcredSecret(options, payload)
    const result: NamespaceResult = {namespace, action: 'failed', serviceAccounts: []}
    try {
      // Everything the attachment needs is checked first, so that a refusal leaves no secret behind.
      const attachTo = options.attachTo
      // eslint-disable-next-line no-await-in-loop
      const serviceAccounts = attachTo ? await attachableServiceAccounts(client, namespace, attachTo) : []
      // eslint-disable-next-line no-await-in-loop -- namespaces are handled one by one so that output is ordered
      const outcome = await createOrUpdateSecret(client, secret, namespace, options)
      result.action = outcome.action
      result.secret = outcome.secret
      if (options.attachTo) {
        for (const serviceAccount of serviceAccounts) {
          // eslint-disable-next-line no-await-in-loop
          const attached = await attachPullSecret(client, {
            namespace,
            serviceAccount,
            secretName: secret.metadata.name,
            dryRun: options.dryRun === 'server',
          })
          result.serviceAccounts.push({name: serviceAccount, action: attached.action})
        }
      }
    } catch (error) {
      if (!(error instanceof UserError)) throw error
      result.error = error.message
    }
    results.push(result)
    onResult?.(result)
  }
  return results
}

import {readFileSync} from 'node:fs'

import {
  credentialsOf, DEFAULT_DOCKER_SERVER, DOCKER_CONFIG_JSON_KEY, DOCKER_CONFIG_JSON_TYPE, type DockerCredential,
  parseDockerConfigJson, renderDockerConfigJson, secretHashSuffix,
} from '../image/docker-config.js'
import {unreadableFile} from '../describe-error.js'
import {UserError} from '../errors.js'
import type {DryRun} from '../cluster/objects.js'
import {apiStatusOf, type KubeClient, listAllPages} from '../cluster/kube-client.js'
import {dns1123LabelProblem, dns1123SubdomainProblem} from '../names.js'
import type {KubeObject} from '../cluster/objects.js'
import {verifyRegistryLogin} from '../image/registry-client.js'
import {missingPermissions} from '../cluster/rbac-preflight.js'
import {attachPullSecret} from '../cluster/service-accounts.js'

/** Everything `create-regcred` needs, after flags and stdin are read (kubectl's "complete" step). */
export interface RegcredOptions {
  name: string
  server?: string
  username?: string
  password?: string
  email?: string
  dockerConfigFile?: string
  /** Target namespaces, or 'all' for -A. */
  namespaces: string[] | 'all'
  /** True when -n/--namespaces was given: client-side output then carries metadata.namespace, as kubectl's does. */
  namespaceExplicit: boolean
  attachTo?: string[] | 'all'
  verify: boolean
  caFile?: string
  insecureSkipTlsVerify?: boolean
  /** How long the registry login check may take (--request-timeout); 0: no limit. */
  registryTimeoutMs?: number
  overwrite: boolean
  appendHash: boolean
  dryRun: DryRun
}

export type SecretAction = 'created' | 'configured' | 'unchanged' | 'failed'

export interface NamespaceResult {
  namespace: string
  action: SecretAction
  secret?: KubeObject
  serviceAccounts: Array<{name: string; action: 'attached' | 'unchanged'}>
  error?: string
}

/** Reject bad combinations and names before anything is read or sent (kubectl's "validate" step). */
export function validateRegcredOptions(options: RegcredOptions): void {
  if (options.dryRun === 'client' && (options.namespaces === 'all' || options.attachTo === 'all')) {
    throw new UserError('--dry-run=client contacts no cluster, so it cannot list namespaces or service accounts (-A, --attach-to-all-sa); use --dry-run=server')
  }
  const nameProblem = dns1123SubdomainProblem(options.name)
  if (nameProblem) throw new UserError(`invalid secret name "${options.name}": ${nameProblem}`)
  if (options.dockerConfigFile !== undefined) {
    for (const [flag, value] of [['--docker-username', options.username], ['--docker-password/--password-stdin', options.password], ['--docker-email', options.email], ['--docker-server', options.server]] as const) {
      if (value !== undefined) throw new UserError(`--from-docker-config and ${flag} cannot be used together: the file already holds the registry and credentials`)
    }
  } else {
    if (options.server !== undefined && options.server.trim() === '') throw new UserError('--docker-server must not be empty (default: https://index.docker.io/v1/)')
    if (!options.username) throw new UserError('--docker-username is required (or --from-docker-config FILE)')
    if (options.password === undefined || options.password === '') {
      throw new UserError('a password is required: pass --password-stdin and pipe it in (keeps it out of shell history), or --docker-password')
    }
  }
  if (options.namespaces !== 'all') {
    if (options.namespaces.length === 0) throw new UserError('--namespaces needs at least one namespace')
    for (const namespace of options.namespaces) {
      const problem = dns1123LabelProblem(namespace)
      if (problem) throw new UserError(`invalid namespace "${namespace}": ${problem}`)
    }
  }
  if (Array.isArray(options.attachTo)) {
    if (options.attachTo.length === 0) throw new UserError('--attach-to-sa needs at least one service account name')
    for (const sa of options.attachTo) {
      const problem = dns1123SubdomainProblem(sa)
      if (problem) throw new UserError(`invalid service account name "${sa}" in --attach-to-sa: ${problem}`)
    }
  }
  if (options.caFile !== undefined) {
    try {
      readFileSync(options.caFile)
    } catch (error) {
      throw new UserError(unreadableFile('--ca-file', `"${options.caFile}"`, error))
    }
  }
}

/** The `.dockerconfigjson` bytes and the credentials they hold. */
export function regcredPayload(options: RegcredOptions): {payload: string; credentials: DockerCredential[]} {
  if (options.dockerConfigFile !== undefined) {
    let text: string
    try {
      text = readFileSync(options.dockerConfigFile, 'utf8')
    } catch (error) {
      throw new UserError(unreadableFile('--from-docker-config', `"${options.dockerConfigFile}"`, error))
    }
    const source = `--from-docker-config "${options.dockerConfigFile}"`
    const credentials = credentialsOf(parseDockerConfigJson(text, source), source)
    // kubectl's --from-file stores the file byte for byte; so do we.
    return {payload: text, credentials}
  }
  const credential = {server: options.server ?? DEFAULT_DOCKER_SERVER, username: options.username!, password: options.password!, email: options.email}
  return {payload: renderDockerConfigJson(credential), credentials: [credential]}
}

/** The Secret object, field for field and in the order `kubectl create secret docker-registry` prints it. */
export function buildRegcredSecret(options: RegcredOptions, payload: string, namespace?: string): KubeObject & {metadata: {name: string}; data: Record<string, string>} {
  const data = {[DOCKER_CONFIG_JSON_KEY]: Buffer.from(payload, 'utf8').toString('base64')}
  const name = options.appendHash
    ? `${options.name}-${secretHashSuffix({name: options.name, type: DOCKER_CONFIG_JSON_TYPE, data})}`
    : options.name
  const metadata: {name: string; namespace?: string; creationTimestamp: null} = {name, creationTimestamp: null}
  if (namespace !== undefined) {
    // Keep kubectl's key order: name, namespace, creationTimestamp.
    delete (metadata as {creationTimestamp?: null}).creationTimestamp
    Object.assign(metadata, {namespace, creationTimestamp: null})
  }
  return {kind: 'Secret', apiVersion: 'v1', metadata, data, type: DOCKER_CONFIG_JSON_TYPE}
}

/** Check every credential against its registry before anything is created. */
export async function verifyCredentials(options: RegcredOptions, credentials: DockerCredential[]): Promise<void> {
  for (const credential of credentials) {
    // eslint-disable-next-line no-await-in-loop -- one registry at a time keeps errors readable
    await verifyRegistryLogin({
      server: credential.server,
      username: credential.username,
      password: credential.password,
      caFile: options.caFile,
      insecureSkipTlsVerify: options.insecureSkipTlsVerify,
      timeoutMs: options.registryTimeoutMs,
    })
  }
}

export async function resolveNamespaces(options: RegcredOptions, client: KubeClient | undefined): Promise<string[]> {
  if (options.namespaces !== 'all') return [...new Set(options.namespaces)]
  if (!client) throw new UserError('-A/--all-namespaces needs the cluster to list namespaces')
  const namespaces = await client.call({verb: 'list', resource: 'namespaces'}, () =>
    listAllPages((page) => client.core.listNamespace(page)))
  return namespaces.map((ns) => ns.metadata!.name!).filter(Boolean)
}

async function createOrUpdateSecret(client: KubeClient, secret: ReturnType<typeof buildRegcredSecret>, namespace: string, options: RegcredOptions): Promise<{action: SecretAction; secret: KubeObject}> {
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
    client.core.readNamespacedSecret({name, namespace}))
  if (existing.type !== secret.type) {
    throw new UserError(`secret "${name}" in namespace "${namespace}" has type ${existing.type ?? 'Opaque'}; a secret's type cannot change, so delete it first (kubectl delete secret ${name} -n ${namespace})`)
  }
  const existingData = existing.data ?? {}
  if (Object.keys(existingData).length === 1 && existingData[DOCKER_CONFIG_JSON_KEY] === secret.data[DOCKER_CONFIG_JSON_KEY]) {
    return {action: 'unchanged', secret: existing as KubeObject}
  }
  // Replace guarded by the resourceVersion we read: a concurrent change gives a Conflict, not a lost update.
  const replaced = await client.call({verb: 'update', resource: 'secrets', namespace, name}, () =>
    client.core.replaceNamespacedSecret({name, namespace, dryRun, body: {...existing, data: secret.data, stringData: undefined}}))
  return {action: 'configured', secret: replaced as KubeObject}
}

async function serviceAccountNames(client: KubeClient, namespace: string, attachTo: string[] | 'all'): Promise<string[]> {
  if (attachTo !== 'all') return attachTo
  const accounts = await client.call({verb: 'list', resource: 'serviceaccounts', namespace}, () =>
    listAllPages((page) => client.core.listNamespacedServiceAccount({namespace, ...page})))
  return accounts.map((sa) => sa.metadata!.name!)
}

/**
 * The service accounts the secret will be attached to, once it is known that they exist and that
 * the user may read and patch them: otherwise the namespace fails before its secret is created.
 */
async function attachableServiceAccounts(client: KubeClient, namespace: string, attachTo: string[] | 'all'): Promise<string[]> {
  const missing = await missingPermissions(client, [{verb: 'get', resource: 'serviceaccounts', namespace}, {verb: 'patch', resource: 'serviceaccounts', namespace}])
  if (missing && missing.length > 0) {
    throw new UserError(`forbidden: RBAC does not allow you to ${missing.join(' or ')}, which --attach-to-sa needs; nothing was created`)
  }
  const names = await serviceAccountNames(client, namespace, attachTo)
  if (attachTo !== 'all') {
    for (const name of names) {
      // eslint-disable-next-line no-await-in-loop -- a handful of accounts
      await client.call({verb: 'get', resource: 'serviceaccounts', namespace, name}, () => client.core.readNamespacedServiceAccount({name, namespace}))
    }
  }
  return names
}

/**
 * Create (or with --overwrite update) the pull secret in every target namespace and attach it to
 * service accounts. A failure in one namespace is reported and the others go on.
 */
export async function applyRegcred(options: RegcredOptions, client: KubeClient, payload: string, onResult?: (result: NamespaceResult) => void): Promise<NamespaceResult[]> {
  const results: NamespaceResult[] = []
  for (const namespace of await resolveNamespaces(options, client)) {
    const secret = buildRegcredSecret(options, payload)
    const result: NamespaceResult = {namespace, action: 'failed', serviceAccounts: []}
    try {
      // Everything the attachment needs is checked first, so that a refusal leaves no secret behind.
      // eslint-disable-next-line no-await-in-loop
      const serviceAccounts = options.attachTo ? await attachableServiceAccounts(client, namespace, options.attachTo) : []
      // eslint-disable-next-line no-await-in-loop -- namespaces are handled one by one so that output is ordered
      const outcome = await createOrUpdateSecret(client, secret, namespace, options)
      result.action = outcome.action
      result.secret = outcome.secret
      if (options.attachTo) {
        for (const serviceAccount of serviceAccounts) {
          // eslint-disable-next-line no-await-in-loop
          const attached = await attachPullSecret(client, {namespace, serviceAccount, secretName: secret.metadata.name, dryRun: options.dryRun === 'server'})
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

/** kubectl's suffix for what a dry run did: `secret/x created (dry run)`. */
export function dryRunSuffix(dryRun: DryRun): string {
  return {none: '', client: ' (dry run)', server: ' (server dry run)'}[dryRun]
}

/** `--dry-run=client`: the secrets that would be created, one per namespace, contacting nothing. */
export function clientDryRun(options: RegcredOptions, payload: string): Array<{namespace: string; secret: ReturnType<typeof buildRegcredSecret>; line: string}> {
  const namespaces = options.namespaces === 'all' ? [] : options.namespaces
  return namespaces.map((namespace) => {
    const secret = buildRegcredSecret(options, payload, options.namespaceExplicit ? namespace : undefined)
    const attach = Array.isArray(options.attachTo) ? `; would attach to ${options.attachTo.map((sa) => `serviceaccount/${sa}`).join(', ')}` : ''
    return {namespace, secret, line: `secret/${secret.metadata.name} created in namespace "${namespace}"${attach}${dryRunSuffix(options.dryRun)}`}
  })
}

/** The line kubectl-style output prints for one namespace, or undefined when it failed (the error says it). */
export function describeNamespaceResult(result: NamespaceResult, secretName: string, dryRun: DryRun): string | undefined {
  if (result.action === 'failed') return undefined
  const object = `secret/${result.secret?.metadata?.name ?? secretName}`
  const attached = result.serviceAccounts.filter((sa) => sa.action === 'attached').map((sa) => `serviceaccount/${sa.name}`)
  const already = result.serviceAccounts.filter((sa) => sa.action === 'unchanged').map((sa) => `serviceaccount/${sa.name}`)
  const parts = [`${object} ${result.action} in namespace "${result.namespace}"`]
  if (attached.length > 0) parts.push(`attached to ${attached.join(', ')}`)
  if (already.length > 0) parts.push(`already in ${already.join(', ')}`)
  return `${parts.join('; ')}${dryRunSuffix(dryRun)}`
}

import {readFileSync} from 'node:fs'

import {
  credentialsOf,
  DEFAULT_DOCKER_SERVER,
  DOCKER_CONFIG_JSON_KEY,
  DOCKER_CONFIG_JSON_TYPE,
  type DockerCredential,
  parseDockerConfigJson,
  renderDockerConfigJson,
  secretHashSuffix,
} from '../image/docker-config.js'
import {unreadableFile} from '../describe-error.js'
import {UserError} from '../errors.js'
import {readCaBundle} from '../pem.js'
import type {DryRun} from '../cluster/objects.js'
import {dns1123LabelProblem, dns1123SubdomainProblem} from '../names.js'
import type {KubeObject} from '../cluster/objects.js'
import {verifyRegistryLogin} from '../image/registry-client.js'

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
    throw new UserError(
      '--dry-run=client contacts no cluster, so it cannot list namespaces or service accounts (-A, --attach-to-all-sa); use --dry-run=server',
    )
  }
  const nameProblem = dns1123SubdomainProblem(options.name)
  if (nameProblem) throw new UserError(`invalid secret name "${options.name}": ${nameProblem}`)
  if (options.dockerConfigFile !== undefined) {
    for (const [flag, value] of [
      ['--docker-username', options.username],
      ['--docker-password/--password-stdin', options.password],
      ['--docker-email', options.email],
      ['--docker-server', options.server],
    ] as const) {
      if (value !== undefined)
        throw new UserError(
          `--from-docker-config and ${flag} cannot be used together: the file already holds the registry and credentials`,
        )
    }
  } else {
    if (options.server !== undefined && options.server.trim() === '')
      throw new UserError('--docker-server must not be empty (default: https://index.docker.io/v1/)')
    if (!options.username) throw new UserError('--docker-username is required (or --from-docker-config FILE)')
    if (options.password === undefined || options.password === '') {
      throw new UserError(
        'a password is required: pass --password-stdin and pipe it in (keeps it out of shell history), or --docker-password',
      )
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
  if (options.caFile !== undefined) readCaBundle('--ca-file', options.caFile)
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
  const credential = {
    server: options.server ?? DEFAULT_DOCKER_SERVER,
    username: options.username!,
    password: options.password!,
    email: options.email,
  }
  return {payload: renderDockerConfigJson(credential), credentials: [credential]}
}

/** The Secret object, field for field and in the order `kubectl create secret docker-registry` prints it. */
export function buildRegcredSecret(
  options: RegcredOptions,
  payload: string,
  namespace?: string,
): KubeObject & {metadata: {name: string}; data: Record<string, string>} {
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

/** kubectl's suffix for what a dry run did: `secret/x created (dry run)`. */
export function dryRunSuffix(dryRun: DryRun): string {
  return {none: '', client: ' (dry run)', server: ' (server dry run)'}[dryRun]
}

/** `--dry-run=client`: the secrets that would be created, one per namespace, contacting nothing. */
export function clientDryRun(
  options: RegcredOptions,
  payload: string,
): Array<{namespace: string; secret: ReturnType<typeof buildRegcredSecret>; line: string}> {
  const namespaces = options.namespaces === 'all' ? [] : options.namespaces
  return namespaces.map((namespace) => {
    const secret = buildRegcredSecret(options, payload, options.namespaceExplicit ? namespace : undefined)
    const attach = Array.isArray(options.attachTo)
      ? `; would attach to ${options.attachTo.map((sa) => `serviceaccount/${sa}`).join(', ')}`
      : ''
    return {
      namespace,
      secret,
      line: `secret/${secret.metadata.name} created in namespace "${namespace}"${attach}${dryRunSuffix(options.dryRun)}`,
    }
  })
}

/** The line kubectl-style output prints for one namespace, or undefined when it failed (the error says it). */
export function describeNamespaceResult(
  result: NamespaceResult,
  secretName: string,
  dryRun: DryRun,
): string | undefined {
  if (result.action === 'failed') return undefined
  const object = `secret/${result.secret?.metadata?.name ?? secretName}`
  const attached = result.serviceAccounts
    .filter((sa) => sa.action === 'attached')
    .map((sa) => `serviceaccount/${sa.name}`)
  const already = result.serviceAccounts
    .filter((sa) => sa.action === 'unchanged')
    .map((sa) => `serviceaccount/${sa.name}`)
  const parts = [`${object} ${result.action} in namespace "${result.namespace}"`]
  if (attached.length > 0) parts.push(`attached to ${attached.join(', ')}`)
  if (already.length > 0) parts.push(`already in ${already.join(', ')}`)
  return `${parts.join('; ')}${dryRunSuffix(dryRun)}`
}

export {applyRegcred, resolveNamespaces} from './apply.js'

// Registry credentials for the backend that `whitelist enable` sets up (`--docker-config FILE`, or
// `--docker-config-secret NAMESPACE/NAME`, a docker-registry pull Secret in the cluster): the
// backend reads signatures from the registries requireSignature covers, which may not allow
// anonymous pulls. The file's text is read once, checked, and handed to the placement at apply
// time only: it is never part of the plan, so `--dry-run=client` cannot print it, and every message
// names the flag and the file, never what is in it.

import {UserError} from '../errors.js'
import {type ClusterAccess, NO_CLUSTER, requireClient} from '../cluster/connection.js'
import {
  credentialsOf,
  DOCKER_CONFIG_JSON_KEY,
  DOCKER_CONFIG_JSON_TYPE,
  parseDockerConfigJson,
  readDockerConfigFile,
} from '../image/docker-config.js'
import type {ImagePolicy} from '../policy/policy.js'

/** What the plan knows of the credentials: where they come from, never their content. */
export interface RegistryCredentialsSource {
  /** How messages name them: `--docker-config "FILE"`. */
  source: string
}

/** The credentials read for one run: the plan's part, and the text the placement installs. */
export interface RegistryCredentials extends RegistryCredentialsSource {
  /** The docker config.json text; only ever written to a 0600 file or a Secret. */
  text: string
}

/** What --dry-run prints in place of the credentials. */
export function credentialsPlaceholder(credentials: RegistryCredentialsSource): string {
  return `<registry credentials from ${credentials.source}: not printed>\n`
}

/** Where the credentials come from: a file on this node, or a pull Secret in the cluster. */
export interface RegistryCredentialsOptions {
  dockerConfig?: string
  /** NAMESPACE/NAME of a kubernetes.io/dockerconfigjson (or legacy dockercfg) Secret. */
  dockerConfigSecret?: string
}

/**
 * Read and check the credentials (a docker config.json with at least one username and password).
 * They only make sense when the backend reads from registries: signatures (requireSignature) or
 * image contents (requireNonRootImage, forbidShell, maxImageAgeDays); it pulls nothing else.
 */
export async function readRegistryCredentials(
  options: RegistryCredentialsOptions,
  policy: Partial<Pick<ImagePolicy, 'requireSignature' | 'requireNonRootImage' | 'forbidShell' | 'maxImageAgeDays'>>,
  cluster: ClusterAccess = NO_CLUSTER,
): Promise<RegistryCredentials | undefined> {
  const flag = options.dockerConfigSecret === undefined ? '--docker-config' : '--docker-config-secret'
  if (options.dockerConfig === undefined && options.dockerConfigSecret === undefined) return undefined
  if (options.dockerConfig !== undefined && options.dockerConfigSecret !== undefined)
    throw new UserError('give the backend registry credentials once: --docker-config FILE or --docker-config-secret')
  if (
    !policy.requireSignature &&
    !policy.requireNonRootImage &&
    !policy.forbidShell &&
    policy.maxImageAgeDays === undefined
  )
    throw new UserError(
      `${flag} gives the backend registry credentials to read signatures and image contents: it goes with --require-signature --trusted-key KEY, or a --policy file with requireSignature, requireNonRootImage, forbidShell or maxImageAgeDays`,
    )
  if (options.dockerConfigSecret !== undefined) return readSecretCredentials(options.dockerConfigSecret, cluster)
  const {source, text} = readDockerConfigFile(options.dockerConfig!)
  return {source, text}
}

/** A docker-registry Secret's config.json, read through the kubeconfig (get secrets in its namespace). */
async function readSecretCredentials(given: string, cluster: ClusterAccess): Promise<RegistryCredentials> {
  const [namespace, name, ...rest] = given.split('/')
  if (!namespace || !name || rest.length > 0)
    throw new UserError(
      `--docker-config-secret ${given}: expected NAMESPACE/NAME of a docker-registry Secret (kubectl create secret docker-registry), e.g. kube-system/regcred`,
    )
  const source = `--docker-config-secret "${namespace}/${name}"`
  const client = requireClient(cluster)
  const secret = await client.call({verb: 'get', resource: 'secrets', namespace, name}, () =>
    client.core.readNamespacedSecret({name, namespace}),
  )
  const decoded = (key: string) => {
    const value = secret.data?.[key]
    return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8')
  }
  let text: string | undefined
  if (secret.type === DOCKER_CONFIG_JSON_TYPE) text = decoded(DOCKER_CONFIG_JSON_KEY)
  else if (secret.type === 'kubernetes.io/dockercfg') {
    // The legacy format is the "auths" object alone.
    const legacy = decoded('.dockercfg')
    text = legacy === undefined ? undefined : `{"auths":${legacy}}`
  }
  if (text === undefined)
    throw new UserError(
      `${source} is not a docker-registry Secret (type ${secret.type ?? 'Opaque'}, expected ${DOCKER_CONFIG_JSON_TYPE} with ${DOCKER_CONFIG_JSON_KEY}); create one with "kubectl imgsec create-regcred" or "kubectl create secret docker-registry"`,
    )
  credentialsOf(parseDockerConfigJson(text, source), source)
  return {source, text}
}

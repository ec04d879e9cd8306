import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {describeJsonSyntax, unreadableFile} from '../describe-error.js'
import {UserError} from '../errors.js'
import {globToRegExp} from '../glob.js'

/** kubectl's default --docker-server: the legacy Docker Hub index URL the kubelet keyring matches Docker Hub images with. */
export const DEFAULT_DOCKER_SERVER = 'https://index.docker.io/v1/'
export const DOCKER_CONFIG_JSON_KEY = '.dockerconfigjson'
export const DOCKER_CONFIG_JSON_TYPE = 'kubernetes.io/dockerconfigjson'

export interface DockerCredential {
  server: string
  username: string
  password: string
  email?: string
}

export interface DockerConfigEntry {
  username?: string
  password?: string
  email?: string
  auth?: string
  [key: string]: unknown
}

export interface DockerConfigJson {
  auths: Record<string, DockerConfigEntry>
  [key: string]: unknown
}

/**
 * JSON text exactly as Go's encoding/json writes it: JSON.stringify plus Go's HTML-safe escapes
 * (<, >, & and the JS line separators). These characters can only occur inside strings, so a
 * replacement over the whole text is safe. kubectl's secrets must be byte-identical to ours.
 */
export function goJsonEncode(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029')
}

/** The `.dockerconfigjson` payload `kubectl create secret docker-registry` writes for the same input. */
export function renderDockerConfigJson(credential: DockerCredential): string {
  // Field order and omitempty follow kubectl's DockerConfigEntry struct.
  const entry: DockerConfigEntry = {}
  if (credential.username) entry.username = credential.username
  if (credential.password) entry.password = credential.password
  if (credential.email) entry.email = credential.email
  const auth = Buffer.from(`${credential.username}:${credential.password}`).toString('base64')
  if (auth) entry.auth = auth
  return goJsonEncode({auths: {[credential.server]: entry}})
}

/** Parse and validate a docker config.json (`~/.docker/config.json`), naming `source` in every error. */
export function parseDockerConfigJson(text: string, source: string): DockerConfigJson {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    // JSON.parse's message quotes the file (a password, a token): say where and what instead.
    throw new UserError(
      `${source} is not valid JSON (${describeJsonSyntax(text)}); expected a docker config.json like {"auths": {"registry.example.com": {"auth": "…"}}}`,
    )
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new UserError(`${source} is not a docker config.json: expected a JSON object with "auths"`)
  }
  const auths = (doc as Record<string, unknown>).auths
  if (!auths || typeof auths !== 'object' || Array.isArray(auths)) {
    throw new UserError(
      `${source} has no "auths" object; create it with "docker login" (or podman login --authfile) and pass that file`,
    )
  }
  for (const [server, entry] of Object.entries(auths)) {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new UserError(`${source}: auths["${server}"] must be an object with "auth" or "username"/"password"`)
    }
  }
  return doc as DockerConfigJson
}

const PADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * `username:password` from a docker config `auth` field, as docker and the kubelet decode it: Go's
 * base64.StdEncoding (padded, nothing but the alphabet), split at the first colon, NUL bytes
 * trimmed from both ends of the password. Undefined when docker would refuse it.
 */
export function decodeDockerAuth(auth: string): {username: string; password: string} | undefined {
  if (!PADDED_BASE64.test(auth)) return undefined
  const decoded = Buffer.from(auth, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return {username: decoded.slice(0, colon), password: decoded.slice(colon + 1).replace(/^\0+|\0+$/g, '')}
}

/** The username/password pairs a docker config holds; `auth` wins over separate fields, as in the kubelet. */
export function credentialsOf(config: DockerConfigJson, source: string): DockerCredential[] {
  const credentials: DockerCredential[] = []
  for (const [server, entry] of Object.entries(config.auths)) {
    let {username, password} = entry
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = decodeDockerAuth(entry.auth)
      if (!decoded)
        throw new UserError(
          `${source}: auths["${server}"].auth is not base64 of "username:password" (docker reads standard base64 with its = padding)`,
        )
      ;({username, password} = decoded)
    }
    if (typeof username === 'string' && typeof password === 'string' && username !== '') {
      credentials.push({server, username, password, email: typeof entry.email === 'string' ? entry.email : undefined})
    }
  }
  if (credentials.length === 0) {
    const helper = (config as Record<string, unknown>).credsStore
    throw new UserError(
      `${source} holds no username/password for any registry${typeof helper === 'string' ? ` (docker keeps them in the "${helper}" credential store)` : ''}; pass --docker-username and --password-stdin instead`,
    )
  }
  return credentials
}

/**
 * The name suffix of `kubectl create secret … --append-hash` (kubectl/pkg/util/hash): sha256 of the
 * Go JSON of {data, kind, name, type}, first 10 hex digits with vowel-like digits remapped so the
 * suffix never spells words.
 */
export function secretHashSuffix(secret: {name: string; type: string; data: Record<string, string>}): string {
  const encoded = goJsonEncode({data: sortedObject(secret.data), kind: 'Secret', name: secret.name, type: secret.type})
  const hex = createHash('sha256').update(encoded).digest('hex').slice(0, 10)
  const remap: Record<string, string> = {0: 'g', 1: 'h', 3: 'k', a: 'm', e: 't'}
  return [...hex].map((c) => remap[c] ?? c).join('')
}

function sortedObject(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io'])

function globComponentMatches(pattern: string, value: string): boolean {
  return globToRegExp(pattern, '[^.]*').test(value)
}

/**
 * Would the kubelet use a pull-secret entry keyed `server` for this image? Its keyring matching
 * (pkg/credentialprovider): the key may carry a scheme and a /v1/ or /v2/ suffix; host names
 * match component by component with `*` globs, ports must be equal, and the key's path must be a
 * prefix of the image's repository. Docker Hub's names are interchangeable.
 */
export function credentialMatchesImage(server: string, image: {registry: string; repository: string}): boolean {
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `https://${server}`)
  } catch {
    return false
  }
  let keyPath = url.pathname
  if (keyPath.startsWith('/v1/') || keyPath.startsWith('/v2/')) keyPath = keyPath.slice(3)
  keyPath = keyPath.replace(/\/+$/, '')
  const keyHost = url.hostname.toLowerCase().replace(/^\[|\]$/g, '')
  const [imageHostRaw, imagePort = ''] = image.registry.toLowerCase().startsWith('[')
    ? [
        image.registry.toLowerCase().slice(1, image.registry.indexOf(']')),
        image.registry.slice(image.registry.indexOf(']') + 2),
      ]
    : image.registry.toLowerCase().split(':')
  if (url.port !== imagePort) return false
  const bothHub = DOCKER_HUB_HOSTS.has(keyHost) && DOCKER_HUB_HOSTS.has(imageHostRaw)
  if (!bothHub) {
    const keyParts = keyHost.split('.')
    const imageParts = imageHostRaw.split('.')
    if (keyParts.length !== imageParts.length) return false
    if (!keyParts.every((part, index) => globComponentMatches(part, imageParts[index]))) return false
  }
  return `/${image.repository}`.startsWith(keyPath)
}

/** A Secret as read from the API (data, base64) or from a manifest file (stringData, plain text, wins as the API server merges it). */
export interface PullSecretObject {
  type?: string
  data?: Record<string, string>
  stringData?: Record<string, string>
}

function secretValue(secret: PullSecretObject, key: string): string | undefined {
  const plain = secret.stringData?.[key]
  if (typeof plain === 'string' && plain !== '') return plain
  const encoded = secret.data?.[key]
  return typeof encoded === 'string' && encoded !== '' ? Buffer.from(encoded, 'base64').toString('utf8') : undefined
}

/**
 * The registry entries of a `kubernetes.io/dockerconfigjson` or legacy `kubernetes.io/dockercfg`
 * Secret. An entry whose `auth` docker cannot decode makes the kubelet refuse the whole secret.
 */
function pullSecretEntries(secret: PullSecretObject): Record<string, DockerConfigEntry> {
  let entries: Record<string, DockerConfigEntry> = {}
  try {
    const configJson = secret.type === DOCKER_CONFIG_JSON_TYPE ? secretValue(secret, DOCKER_CONFIG_JSON_KEY) : undefined
    const dockercfg = secret.type === 'kubernetes.io/dockercfg' ? secretValue(secret, '.dockercfg') : undefined
    if (configJson) entries = (JSON.parse(configJson) as {auths?: Record<string, DockerConfigEntry>}).auths ?? {}
    else if (dockercfg) entries = JSON.parse(dockercfg) as Record<string, DockerConfigEntry>
  } catch {
    return {}
  }
  if (!entries || typeof entries !== 'object') return {}
  const unusable = Object.values(entries).some(
    (entry) =>
      !entry ||
      typeof entry !== 'object' ||
      (typeof entry.auth === 'string' && entry.auth !== '' && !decodeDockerAuth(entry.auth)),
  )
  return unusable ? {} : entries
}

/** Registry servers a pull Secret has credentials for. */
export function pullSecretServers(secret: PullSecretObject): string[] {
  return Object.keys(pullSecretEntries(secret))
}

/** The credentials of a pull Secret (empty when it holds none usable). */
export function pullSecretCredentials(secret: PullSecretObject): DockerCredential[] {
  const entries = pullSecretEntries(secret)
  if (Object.keys(entries).length === 0) return []
  try {
    return credentialsOf({auths: entries}, 'secret')
  } catch {
    return []
  }
}

/** The first credential whose server the kubelet would use for this image. */
export function credentialForImage(
  credentials: DockerCredential[],
  image: {registry: string; repository: string},
): DockerCredential | undefined {
  return credentials.find((credential) => credentialMatchesImage(credential.server, image))
}

/**
 * A docker config.json named by a flag (`--docker-config`): its text, how errors name it, and its
 * credentials. Unreadable, not JSON or without any login is a usage error naming the file, never
 * quoting it.
 */
export function readDockerConfigFile(
  file: string,
  flag = '--docker-config',
): {source: string; text: string; credentials: DockerCredential[]} {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UserError(unreadableFile(flag, `"${file}"`, error))
  }
  const source = `${flag} "${file}"`
  return {source, text, credentials: credentialsOf(parseDockerConfigJson(text, source), source)}
}

/** The credentials of a docker config.json named by a flag (`--docker-config`): unreadable or empty is a usage error. */
export function dockerConfigFileCredentials(file: string, flag = '--docker-config'): DockerCredential[] {
  return readDockerConfigFile(file, flag).credentials
}

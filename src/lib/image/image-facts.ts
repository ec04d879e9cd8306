// What an image is, from its config and its merged file system: the facts the audit's image
// checks judge. Pure: layers are applied in order with their whiteouts, as a container runtime
// stacks them.
import type {LayerEntries} from './layer-entries.js'

export interface ImageFacts {
  /** The image as the audit names it (`registry.example.com/app:1.0`). */
  image: string
  /** Digest of the manifest read (the platform's, for an index). */
  digest: string
  platform?: string
  /** Config `User` as written ('' when unset). */
  user: string
  /** Config `created` (RFC 3339), when set. */
  created?: string
  /** Sum of the compressed layer sizes from the manifest, in bytes. */
  compressedSize: number
  layers: number
  shells: string[]
  packageManagers: string[]
  networkTools: string[]
  setuidFiles: Array<{path: string; mode: string}>
  /** ENV and LABEL entries that look like credentials: names and why, never the value. */
  secrets: Array<{where: 'ENV' | 'LABEL'; name: string; reason: string}>
  /** Layers that could not be read (e.g. zstd on an older Node): the file checks saw the others only. */
  unreadLayers: string[]
}

export interface ImageConfig {
  created?: string
  config?: {User?: string; Env?: string[]; Labels?: Record<string, string> | null}
}

const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'busybox'])
const PACKAGE_MANAGERS = new Set(['apt', 'apt-get', 'dpkg', 'apk', 'yum', 'dnf', 'rpm', 'microdnf'])
const NETWORK_TOOLS = new Set(['curl', 'wget', 'nc', 'ncat', 'netcat'])

/** The merged file system: every path left after each layer's whiteouts, with special modes. */
export function mergeLayers(layers: LayerEntries[]): Map<string, number | undefined> {
  const files = new Map<string, number | undefined>()
  const removeTree = (dir: string) => {
    const prefix = dir === '' ? '' : `${dir}/`
    for (const path of files.keys()) if (path.startsWith(prefix)) files.delete(path)
  }
  for (const layer of layers) {
    // Whiteouts and opaque directories hide the layers below, never the layer's own files.
    for (const dir of layer.opaque) removeTree(dir)
    for (const path of layer.whiteouts) {
      files.delete(path)
      removeTree(path)
    }
    for (const path of layer.files) files.set(path, layer.special[path])
  }
  return files
}

/** Is this path an executable location (`bin/`, `sbin/`, `usr/local/bin/`, …)? */
function inBinDir(path: string): boolean {
  const parts = path.split('/')
  return parts.length >= 2 && (parts.at(-2) === 'bin' || parts.at(-2) === 'sbin')
}

function toolsIn(files: Map<string, number | undefined>, names: Set<string>): string[] {
  const found: string[] = []
  for (const path of files.keys())
    if (inBinDir(path) && names.has(path.slice(path.lastIndexOf('/') + 1))) found.push(`/${path}`)
  return found.sort()
}

// Names that look like credentials (after dockle's CIS-DI-0010: PASSWD, PASSWORD, SECRET, KEY,
// ACCESS, TOKEN), matched on whole words of the name so that KEYBOARD_LAYOUT is not one.
const SECRET_WORDS =
  /(^|[_.-])(PASSWD|PASSWORD|PASS|SECRET|TOKEN|APIKEY|API_KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?|AUTH)($|[_.-])/
// Names that contain such a word and are not secrets (dockle accepts GPG_KEY the same way).
const ACCEPTED = /^(GPG_KEYS?|.*_VERSION|.*_SHA(256|512)|.*_CHECKSUM|.*_(PATH|FILE|DIR|URL|HOST|PORT|USER|USERNAME))$/
const SECRET_VALUES: Array<[RegExp, string]> = [
  [/AKIA[0-9A-Z]{16}/, 'the value looks like an AWS access key ID'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'the value holds a private key'],
  [/\bgh[pousr]_[A-Za-z0-9]{36}\b/, 'the value looks like a GitHub token'],
  [/\bxox[baprs]-[A-Za-z0-9-]{10,}/, 'the value looks like a Slack token'],
  [/[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, 'the value is a URL with a password in it'],
]

function secretReason(name: string, value: string): string | undefined {
  for (const [pattern, reason] of SECRET_VALUES) if (pattern.test(value)) return reason
  const upper = name.toUpperCase()
  if (value !== '' && SECRET_WORDS.test(upper) && !ACCEPTED.test(upper)) return 'its name looks like a credential'
  return undefined
}

export function secretsInConfig(config: ImageConfig): ImageFacts['secrets'] {
  const found: ImageFacts['secrets'] = []
  for (const entry of config.config?.Env ?? []) {
    const eq = entry.indexOf('=')
    const name = eq < 0 ? entry : entry.slice(0, eq)
    const reason = secretReason(name, eq < 0 ? '' : entry.slice(eq + 1))
    if (reason) found.push({where: 'ENV', name, reason})
  }
  for (const [name, value] of Object.entries(config.config?.Labels ?? {})) {
    const reason = secretReason(name.replace(/[.-]/g, '_'), String(value))
    if (reason) found.push({where: 'LABEL', name, reason})
  }
  return found
}

/** The facts of one image from its config and its layers' entries (in manifest order). */
export function imageFacts(
  identity: Pick<ImageFacts, 'image' | 'digest' | 'platform' | 'compressedSize' | 'layers' | 'unreadLayers'>,
  config: ImageConfig,
  layers: LayerEntries[],
): ImageFacts {
  const files = mergeLayers(layers)
  const setuidFiles = [...files]
    .filter(([, mode]) => mode !== undefined)
    .map(([path, mode]) => ({path: `/${path}`, mode: (mode! & 0o7777).toString(8).padStart(4, '0')}))
    .sort((a, b) => a.path.localeCompare(b.path))
  return {
    ...identity,
    user: config.config?.User ?? '',
    ...(config.created ? {created: config.created} : {}),
    shells: toolsIn(files, SHELLS),
    packageManagers: toolsIn(files, PACKAGE_MANAGERS),
    networkTools: toolsIn(files, NETWORK_TOOLS),
    setuidFiles,
    secrets: secretsInConfig(config),
  }
}

/** Is the config's user root (empty, `0`, `root`, with or without a group)? */
export function isRootUser(user: string): boolean {
  const name = user.split(':')[0].trim()
  return name === '' || name === '0' || name === 'root'
}

/** How the image's config names its user, for messages: `sets no USER` or `sets USER "root"`. */
export function describeImageUser(user: string): string {
  return user === '' ? 'sets no USER' : `sets USER "${user}"`
}

const DAY_MS = 24 * 60 * 60 * 1000

/** Whole days since the config's `created`; undefined without a date (reproducible builds set the epoch: no date, not an old image). */
export function imageAgeDays(created: string | undefined, now: number): number | undefined {
  const time = created ? Date.parse(created) : Number.NaN
  if (!Number.isFinite(time) || time <= 0) return undefined
  return Math.floor((now - time) / DAY_MS)
}

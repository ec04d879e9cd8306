// Where the real control-plane binaries live: a cache outside the repository, keyed by what
// decides their bytes (go.mod, go.sum, our etcd main, the build flags), so a second build is
// instant and a change of any input builds into a new directory.
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const MODULE_DIR = path.dirname(fileURLToPath(import.meta.url))

export const BINARIES = ['kube-apiserver', 'kube-controller-manager', 'etcd'] as const
export type BinaryName = (typeof BINARIES)[number]

/** The Kubernetes release the module requires, e.g. "v1.37.2". */
export function kubernetesVersion(): string {
  const match = /^\s*k8s\.io\/kubernetes (v\d+\.\d+\.\d+)\s*$/m.exec(
    readFileSync(path.join(MODULE_DIR, 'go.mod'), 'utf8'),
  )
  if (!match) throw new Error(`${path.join(MODULE_DIR, 'go.mod')} does not require k8s.io/kubernetes at a release`)
  return match[1]
}

/** What `go build` is told besides the package: part of the cache key. */
export function ldflags(version: string): string {
  const [major, minor] = version.slice(1).split('.')
  // The API server reports these in /version; without them it says v0.0.0-master, and the
  // version checks under test (the CVE-2023-2727 warning, `vap` needing 1.30) would see nonsense.
  const vars = {
    gitVersion: version,
    gitMajor: major,
    gitMinor: minor,
    gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z',
  }
  const sets = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'].flatMap((pkg) =>
    Object.entries(vars).map(([key, value]) => `-X ${pkg}.${key}=${value}`),
  )
  return ['-s', '-w', ...sets].join(' ')
}

export function cacheKey(version: string): string {
  const hash = createHash('sha256')
  for (const file of ['go.mod', 'go.sum', 'etcd/main.go'])
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(path.join(MODULE_DIR, file)))
      .update('\0')
  hash.update(ldflags(version))
  return hash.digest('hex').slice(0, 16)
}

export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache')
  return path.join(base, 'kubectl-imgsec', 'k8s')
}

/** The directory the binaries of this go.mod/go.sum are (or will be) built into. */
export function binaryDir(): string {
  const version = kubernetesVersion()
  return path.join(cacheRoot(), version, cacheKey(version))
}

export interface BuildRecord {
  version: string
  key: string
  go: string
  builtAt: string
  seconds: Record<string, number>
}

export interface Binaries {
  dir: string
  version: string
  paths: Record<BinaryName, string>
}

/**
 * The built binaries, or undefined when they have not been built. IMGSEC_K8S_BIN_DIR points at
 * another directory holding the three (e.g. binaries built elsewhere).
 */
export function findBinaries(): Binaries | undefined {
  const dir = process.env.IMGSEC_K8S_BIN_DIR || binaryDir()
  // build.json is written last: its presence means every binary is complete.
  const stamped = process.env.IMGSEC_K8S_BIN_DIR ? true : existsSync(path.join(dir, 'build.json'))
  const paths = Object.fromEntries(BINARIES.map((name) => [name, path.join(dir, name)])) as Record<BinaryName, string>
  if (!stamped || !BINARIES.every((name) => existsSync(paths[name]))) return undefined
  return {dir, version: kubernetesVersion(), paths}
}

// The on-disk cache of layer results (paths, whiteouts, special modes: never file contents, never
// config values), keyed by the layer's digest, so a second run reads no layer it has seen. Capped
// in size: the least recently used entries go first.
import {mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync} from 'node:fs'
import {homedir} from 'node:os'
import path from 'node:path'

import {writeFileAtomic} from '../atomic-write.js'
import type {LayerStore} from './inspect-image.js'
import type {LayerEntries} from './layer-entries.js'

/** Bump when LayerEntries changes shape: older entries are then ignored (and evicted in time). */
const FORMAT = 'v1'
export const DEFAULT_LAYER_CACHE_BYTES = 256 * 1024 * 1024

/** `$XDG_CACHE_HOME/kubectl-imgsec/layers`, else `~/.cache/kubectl-imgsec/layers`. */
export function defaultLayerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(homedir(), '.cache')
  return path.join(base, 'kubectl-imgsec', 'layers')
}

function isLayerEntries(value: unknown): value is LayerEntries {
  const v = value as LayerEntries
  return (
    Boolean(v) &&
    Array.isArray(v.files) &&
    Array.isArray(v.whiteouts) &&
    Array.isArray(v.opaque) &&
    typeof v.special === 'object' &&
    v.special !== null
  )
}

/**
 * A LayerStore in `dir` holding at most `maxBytes`. A cache that cannot be read or written is
 * only a slower run: failures fall back to reading the layer, never fail the audit.
 */
export function diskLayerStore(dir: string, maxBytes = DEFAULT_LAYER_CACHE_BYTES): LayerStore {
  const fileOf = (digest: string) => path.join(dir, `${FORMAT}-${digest.replace(':', '-')}.json`)
  // The cache's size: measured once, then kept up to date by our writes (one directory scan per run).
  let total: number | undefined
  const ensureDir = () => {
    if (total !== undefined) return
    mkdirSync(dir, {recursive: true, mode: 0o700})
    total = evict(dir, maxBytes)
  }
  return {
    async get(digest) {
      const file = fileOf(digest)
      try {
        const value: unknown = JSON.parse(readFileSync(file, 'utf8'))
        if (!isLayerEntries(value)) return undefined
        const now = new Date()
        utimesSync(file, now, now) // recently used: evicted last
        return value
      } catch {
        return undefined
      }
    },
    async set(digest, entries) {
      try {
        ensureDir()
        const text = JSON.stringify(entries)
        writeFileAtomic(fileOf(digest), text, {mode: 0o600})
        total = total! + Buffer.byteLength(text)
        if (total > maxBytes) total = evict(dir, maxBytes)
        return true
      } catch {
        // A full or read-only disk: the run goes on without caching.
        return false
      }
    },
  }
}

/** Remove the least recently used entries until the cache holds at most `maxBytes`; returns what it holds. */
export function evict(dir: string, maxBytes: number): number {
  const entries = readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => {
      const stat = statSync(path.join(dir, name))
      return {name, size: stat.size, used: stat.mtimeMs}
    })
  let total = entries.reduce((sum, entry) => sum + entry.size, 0)
  if (total <= maxBytes) return total
  for (const entry of entries.sort((a, b) => a.used - b.used)) {
    if (total <= maxBytes) break
    rmSync(path.join(dir, entry.name), {force: true})
    total -= entry.size
  }
  return total
}

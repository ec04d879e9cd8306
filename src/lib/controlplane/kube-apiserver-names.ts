// Names kube-apiserver accepts, from the generated per-release table: a typo in a plugin or flag
// name would otherwise be written into the manifest and keep the API server from starting.
import {KUBE_APISERVER_REFERENCE, type ReleaseReference} from './kube-apiserver-reference.js'
import {closestName} from '../suggest.js'

export interface ReleaseChoice {
  release: string
  reference: ReleaseReference
  /** Why this release: the manifest's own, or the closest one this tool knows. */
  note: string
}

/** The release of the manifest's kube-apiserver image (e.g. "1.32" for …/kube-apiserver:v1.32.0). */
export function manifestRelease(manifestText: string): string | undefined {
  const match = /^\s*(?:-\s+)?image:\s*["']?\S*kube-apiserver(?:-amd64|-arm64)?:v(\d+)\.(\d+)/m.exec(manifestText)
  return match ? `${match[1]}.${match[2]}` : undefined
}

export function chooseRelease(
  release: string | undefined,
  table: Record<string, ReleaseReference> = KUBE_APISERVER_REFERENCE,
): ReleaseChoice {
  const known = Object.keys(table)
  if (known.length === 0) throw new Error('no kube-apiserver reference table is built in')
  if (release && table[release]) return {release, reference: table[release], note: `kube-apiserver v${release}`}
  const minor = (r: string) => Number(r.split('.')[1])
  const target = release ? minor(release) : Math.max(...known.map(minor))
  const closest = known.reduce((best, r) => (Math.abs(minor(r) - target) < Math.abs(minor(best) - target) ? r : best))
  const why = release
    ? `the manifest runs v${release}, which this kubectl-imgsec has no table for`
    : 'the manifest names no kube-apiserver version'
  return {release: closest, reference: table[closest], note: `kube-apiserver v${closest} (${why})`}
}

/** One problem per plugin or flag name that this edit writes and the API server would refuse. */
export function unknownNameProblems(
  edit: {enablePlugins: string[]; disablePlugins: string[]; setFlags: string[]},
  choice: ReleaseChoice,
): string[] {
  const problems: string[] = []
  const plugins = new Set(choice.reference.admissionPlugins)
  for (const [flag, names] of [
    ['--enable-plugins', edit.enablePlugins],
    ['--disable-plugins', edit.disablePlugins],
  ] as const) {
    for (const name of names) {
      if (plugins.has(name)) continue
      const guess = closestName(name, plugins)
      problems.push(
        `${flag} ${name}: ${choice.note} has no admission plugin of that name${guess ? ` (did you mean ${guess}?)` : ''}; it would refuse to start`,
      )
    }
  }
  const flags = new Set(choice.reference.flags)
  for (const name of edit.setFlags) {
    if (flags.has(name)) continue
    const guess = closestName(name, flags)
    problems.push(
      `--set-flag ${name}: ${choice.note} has no flag --${name}${guess ? ` (did you mean --${guess}?)` : ''}; it would refuse to start`,
    )
  }
  return problems
}

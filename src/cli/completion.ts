/**
 * Completion candidates from the oclif manifest (commands, topics, flags, flag values), for
 * kubectl's plugin completion: kubectl ≥ 1.26 runs `kubectl_complete-imgsec <args…> <word>` and
 * reads one candidate per line, then `:<directive>` (cobra's protocol).
 */

export interface ManifestFlag {
  name: string
  char?: string
  type: string
  options?: string[]
  allowNo?: boolean
  hidden?: boolean
}

export interface CompletionManifest {
  commands: Record<string, {flags: Record<string, ManifestFlag>}>
}

/** Cobra's ShellCompDirective values. */
export const NO_FILES = 4
export const FILES = 0

/** Values only a cluster, the kubeconfig or the code knows: bin/complete.js looks them up. */
export type DynamicValues = 'namespaces' | 'contexts' | 'checks'

const DYNAMIC_FLAGS: Record<string, DynamicValues> = {
  namespace: 'namespaces',
  namespaces: 'namespaces',
  'params-namespace': 'namespaces',
  context: 'contexts',
  'ignore-check': 'checks',
}

export interface Completion {
  candidates: string[]
  directive: number
  /** Candidates still to be looked up, then filtered by `current` (after its last comma for lists). */
  dynamic?: DynamicValues
}

/** Filter looked-up values by the word being completed; in a comma list, by its last item. */
export function completeValues(values: string[], current: string): string[] {
  const comma = current.lastIndexOf(',')
  const [head, word] = comma >= 0 ? [current.slice(0, comma + 1), current.slice(comma + 1)] : ['', current]
  return values
    .filter((value) => value.startsWith(word))
    .sort()
    .map((value) => head + value)
}

export function completions(manifest: CompletionManifest, argv: string[]): Completion {
  const words = argv.slice(0, -1)
  const current = argv.at(-1) ?? ''
  const ids = Object.keys(manifest.commands)
  // The command is the longest id made of the leading words (oclif ids join topic parts with ':').
  let id: string | undefined
  let used = 0
  for (let n = Math.min(words.length, 3); n > 0; n--) {
    const candidate = words.slice(0, n).join(':')
    if (manifest.commands[candidate]) {
      id = candidate
      used = n
      break
    }
  }
  if (!id) {
    const prefix = words.length > 0 ? `${words.join(':')}:` : ''
    const next = new Set(ids.filter((c) => c.startsWith(prefix)).map((c) => c.slice(prefix.length).split(':')[0]))
    return {candidates: [...next].filter((w) => w.startsWith(current)).sort(), directive: NO_FILES}
  }
  const flags = Object.values(manifest.commands[id].flags).filter((f) => !f.hidden)
  const previous = words.at(-1)
  if (used < words.length && previous?.startsWith('-') && !previous.includes('=')) {
    const flag = flags.find((f) => previous === `--${f.name}` || (f.char && previous === `-${f.char}`))
    if (flag && DYNAMIC_FLAGS[flag.name])
      return {candidates: [], directive: NO_FILES, dynamic: DYNAMIC_FLAGS[flag.name]}
    if (flag?.type === 'option') {
      return flag.options
        ? {candidates: flag.options.filter((o) => o.startsWith(current)), directive: NO_FILES}
        : {candidates: [], directive: FILES}
    }
  }
  if (current.startsWith('-')) {
    const names = flags.flatMap((f) => [
      `--${f.name}`,
      ...(f.type === 'boolean' && f.allowNo ? [`--no-${f.name}`] : []),
    ])
    return {candidates: names.filter((n) => n.startsWith(current)).sort(), directive: NO_FILES}
  }
  return {candidates: [], directive: FILES}
}

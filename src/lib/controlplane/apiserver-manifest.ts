import path from 'node:path'
import {isMap, isScalar, isSeq, parseDocument, type Document, type Scalar, type YAMLMap, type YAMLSeq} from 'yaml'

import {yamlProblem} from '../describe-error.js'
import {UserError} from '../errors.js'
import {
  renderScalar,
  replaceScalar,
  isFlow,
  appendScalar,
  indentStep,
  appendMapping,
  removeItem,
} from './yaml-splice.js'
import {splitCommaList} from '../comma-list.js'

/**
 * Byte-preserving edits of the kube-apiserver static pod manifest. Every change is a splice of
 * the original text at the offsets the YAML parser reports, so comments, key order, quoting and
 * indentation of everything else survive, and an edit followed by its inverse gives back the
 * original bytes.
 */

export interface ApiserverEdit {
  enablePlugins?: string[]
  disablePlugins?: string[]
  setFlags?: Record<string, string>
  removeFlags?: string[]
  /** Host paths (files or directories) the API server must be able to read. */
  hostPaths?: string[]
  /** Volumes/mounts to remove by name (the inverse of what hostPaths added). */
  removeVolumes?: string[]
}

export interface ApiserverEditResult {
  text: string
  changes: string[]
  /** Volume names added for hostPaths, so that the inverse edit can remove exactly them. */
  addedVolumes: string[]
}

interface Located {
  doc: Document.Parsed
  container: YAMLMap
  containerPath: Array<string | number>
  flags: YAMLSeq
  flagsKey: 'command' | 'args'
}

function parseManifest(text: string, source: string): Document.Parsed {
  const doc = parseDocument(text)
  if (doc.errors.length > 0) {
    // The parser's message quotes the line: only where and what.
    throw new UserError(
      `${source} is not valid YAML (${yamlProblem(doc.errors[0])}); fix it by hand or restore a backup (--restore)`,
    )
  }
  return doc
}

/** Find the kube-apiserver container (by name, else by command) and its flag list. */
export function locateApiserver(text: string, source: string): Located {
  const doc = parseManifest(text, source)
  const root = doc.toJS() as {kind?: string; spec?: {containers?: Array<{name?: string; command?: string[]}>}} | null
  if (!root || typeof root !== 'object' || root.kind !== 'Pod') {
    throw new UserError(
      `${source} is not a Pod manifest (kind: ${root && typeof root === 'object' ? (root.kind ?? 'none') : 'none'}); pass the kube-apiserver static pod with --manifest`,
    )
  }
  const containers = root.spec?.containers ?? []
  let index = containers.findIndex((c) => c?.name === 'kube-apiserver')
  if (index < 0)
    index = containers.findIndex((c) => Array.isArray(c?.command) && String(c.command[0]).endsWith('kube-apiserver'))
  if (index < 0)
    throw new UserError(
      `${source} has no kube-apiserver container (by name or command); is this the API server manifest?`,
    )
  const containerPath = ['spec', 'containers', index]
  const container = doc.getIn(containerPath, true) as YAMLMap
  for (const key of ['command', 'args'] as const) {
    const seq = container.get(key, true)
    if (isSeq(seq) && seq.items.some((item) => isScalar(item) && String(item.value).startsWith('--'))) {
      return {doc, container, containerPath, flags: seq, flagsKey: key}
    }
  }
  const command = container.get('command', true)
  if (isSeq(command)) return {doc, container, containerPath, flags: command, flagsKey: 'command'}
  throw new UserError(`${source}: the kube-apiserver container has no command or args list`)
}

/** All `--name=value` flags of the container, in order. */
export function readFlags(text: string, source: string): Map<string, string> {
  const {flags} = locateApiserver(text, source)
  const result = new Map<string, string>()
  for (const item of flags.items) {
    if (!isScalar(item)) continue
    const match = /^--([^=]+)=(.*)$/s.exec(String(item.value))
    if (match) result.set(match[1], match[2])
    else if (String(item.value).startsWith('--')) result.set(String(item.value).slice(2), 'true')
  }
  return result
}

function flagItemIndex(flags: YAMLSeq, name: string): number {
  return flags.items.findIndex(
    (item) => isScalar(item) && (String(item.value).startsWith(`--${name}=`) || String(item.value) === `--${name}`),
  )
}

function setFlag(text: string, source: string, name: string, value: string, changes: string[]): string {
  const {flags} = locateApiserver(text, source)
  const index = flagItemIndex(flags, name)
  const wanted = `--${name}=${value}`
  if (index < 0) {
    changes.push(`add ${wanted}`)
    return appendScalar(text, flags, wanted)
  }
  const node = flags.items[index] as Scalar
  if (String(node.value) === wanted) return text
  changes.push(`set ${wanted} (was ${String(node.value)})`)
  return replaceScalar(text, node, wanted, isFlow(flags))
}

function removeFlag(text: string, source: string, name: string, changes: string[]): string {
  const {flags} = locateApiserver(text, source)
  const index = flagItemIndex(flags, name)
  if (index < 0) return text
  changes.push(`remove ${String((flags.items[index] as Scalar).value)}`)
  return removeItem(text, flags, index)
}

function editPluginList(
  text: string,
  source: string,
  flag: string,
  update: (plugins: string[]) => string[],
  changes: string[],
): string {
  const current = readFlags(text, source).get(flag)
  const before = splitCommaList(current)
  const after = update(before)
  if (after.join(',') === before.join(',')) return text
  if (after.length === 0) return removeFlag(text, source, flag, changes)
  return setFlag(text, source, flag, after.join(','), changes)
}

/** Does an existing mount of the container make `hostPath` visible at the same path? */
function coveredByMount(mounts: Array<{mountPath?: string}>, hostPath: string): boolean {
  return mounts.some(
    (m) =>
      typeof m.mountPath === 'string' &&
      (hostPath === m.mountPath || hostPath.startsWith(m.mountPath.replace(/\/$/, '') + '/')),
  )
}

function volumeName(dir: string, taken: Set<string>): string {
  const base = `imgsec-${
    path
      .basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'config'
  }`.slice(0, 55)
  let name = base
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`
  return name
}

/** Apply an edit to the manifest text; unchanged text and no changes when it is already so. */
export function editApiserverManifest(original: string, edit: ApiserverEdit, source: string): ApiserverEditResult {
  const changes: string[] = []
  const addedVolumes: string[] = []
  let text = original
  locateApiserver(text, source)
  for (const plugin of edit.enablePlugins ?? []) {
    text = editPluginList(
      text,
      source,
      'disable-admission-plugins',
      (list) => list.filter((p) => p !== plugin),
      changes,
    )
    text = editPluginList(
      text,
      source,
      'enable-admission-plugins',
      (list) => (list.includes(plugin) ? list : [...list, plugin]),
      changes,
    )
  }
  for (const plugin of edit.disablePlugins ?? []) {
    text = editPluginList(text, source, 'enable-admission-plugins', (list) => list.filter((p) => p !== plugin), changes)
  }
  for (const [name, value] of Object.entries(edit.setFlags ?? {})) text = setFlag(text, source, name, value, changes)
  for (const name of edit.removeFlags ?? []) text = removeFlag(text, source, name, changes)

  for (const name of edit.removeVolumes ?? []) {
    let located = locateApiserver(text, source)
    const mounts = located.container.get('volumeMounts', true)
    if (isSeq(mounts)) {
      const index = mounts.items.findIndex((item) => isMap(item) && item.get('name') === name)
      if (index >= 0) {
        text = removeItem(text, mounts, index)
        changes.push(`remove volumeMount ${name}`)
      }
    }
    located = locateApiserver(text, source)
    const volumes = located.doc.getIn(['spec', 'volumes'], true)
    if (isSeq(volumes)) {
      const index = volumes.items.findIndex((item) => isMap(item) && item.get('name') === name)
      if (index >= 0) {
        text = removeItem(text, volumes, index)
        changes.push(`remove volume ${name}`)
      }
    }
  }

  for (const hostPath of edit.hostPaths ?? []) {
    const located = locateApiserver(text, source)
    const js = located.doc.toJS() as {
      spec?: {
        volumes?: Array<{name?: string}>
        containers?: Array<{volumeMounts?: Array<{mountPath?: string; name?: string}>}>
      }
    }
    const mounts = js.spec?.containers?.[located.containerPath[2] as number]?.volumeMounts ?? []
    if (coveredByMount(mounts, hostPath)) continue
    const dir = hostPath
    const taken = new Set([...(js.spec?.volumes ?? []).map((v) => v.name ?? ''), ...mounts.map((m) => m.name ?? '')])
    const name = volumeName(dir, taken)
    const volumes = located.doc.getIn(['spec', 'volumes'], true)
    const mountSeq = located.container.get('volumeMounts', true)
    if (!isSeq(volumes) || !isSeq(mountSeq))
      throw new UserError(`${source}: the pod has no volumes/volumeMounts lists to extend; mount ${dir} by hand`)
    // Splice the list that comes later in the file first, so the offsets of the other stay valid.
    const edits: Array<{seq: YAMLSeq; lines: string[]}> = [
      {
        seq: volumes,
        lines: ['hostPath:', `  path: ${renderScalar(dir)}`, '  type: DirectoryOrCreate', `name: ${name}`],
      },
      {seq: mountSeq, lines: [`mountPath: ${renderScalar(dir)}`, `name: ${name}`, 'readOnly: true']},
    ].sort((a, b) => b.seq.range![0] - a.seq.range![0])
    const step = indentStep(text, located.doc)
    for (const {seq, lines} of edits) text = appendMapping(text, seq, lines, step)
    changes.push(`mount ${dir} read-only as volume ${name}`)
    addedVolumes.push(name)
  }
  return {text, changes, addedVolumes}
}

import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {unreadableFile, yamlProblem} from '../describe-error.js'
import {UserError} from '../errors.js'

/** The flags every cluster command shares (kubectl's genericclioptions). */
export interface KubeTargetOptions {
  kubeconfig?: string
  context?: string
  namespace?: string
  as?: string
  /** kubectl's --request-timeout (30s, 1m, plain seconds; 0 for no limit). */
  requestTimeout?: string
}

type Named = {name: string; [key: string]: unknown}

/** A kubeconfig merged from one or more files, with the context, cluster and namespace chosen. */
export interface ResolvedKubeconfig {
  /** The files that were read, in precedence order (missing KUBECONFIG entries are left out). */
  files: string[]
  contextName?: string
  clusterName?: string
  userName?: string
  server?: string
  namespace: string
  /** True when the namespace came from -n/--namespace (kubectl then writes it into client-side output). */
  namespaceExplicit: boolean
  /** The merged document in kubeconfig form, current-context set to the chosen context. */
  merged: {clusters: Named[]; users: Named[]; contexts: Named[]; 'current-context'?: string}
}

// Paths inside a kubeconfig are relative to the file that names them (clientcmd.ResolvePaths).
const RELATIVE_PATH_FIELDS: Record<'cluster' | 'user', string[]> = {
  cluster: ['certificate-authority'],
  user: ['client-certificate', 'client-key', 'tokenFile'],
}

function kubeconfigFiles(explicit: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (explicit) {
    if (!existsSync(explicit)) {
      throw new UserError(`kubeconfig file "${explicit}" (from --kubeconfig) does not exist`)
    }
    return [explicit]
  }
  if (env.KUBECONFIG) {
    // kubectl skips entries that do not exist and keeps the first of duplicates.
    const seen = new Set<string>()
    return env.KUBECONFIG.split(path.delimiter).filter(
      (file) => file !== '' && !seen.has(file) && seen.add(file) && existsSync(file),
    )
  }
  const home = env.HOME ?? homedir()
  const file = path.join(home, '.kube', 'config')
  return existsSync(file) ? [file] : []
}

function readKubeconfigFile(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UserError(unreadableFile('kubeconfig file', `"${file}"`, error))
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (error) {
    // The parser's message quotes the line (a token, a client key): only the position and the kind of problem.
    throw new UserError(`kubeconfig file "${file}" is not valid YAML (${yamlProblem(error)})`)
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new UserError(
      `kubeconfig file "${file}" is not a kubeconfig (expected a mapping with clusters, users and contexts)`,
    )
  }
  return doc as Record<string, unknown>
}

function namedEntries(doc: Record<string, unknown>, key: string, file: string): Named[] {
  const list = doc[key]
  if (list === undefined || list === null) return []
  if (!Array.isArray(list)) throw new UserError(`kubeconfig file "${file}": "${key}" must be a list`)
  return list.map((entry, index) => {
    if (!entry || typeof entry !== 'object' || typeof (entry as Named).name !== 'string') {
      throw new UserError(`kubeconfig file "${file}": ${key}[${index}] has no name`)
    }
    return entry as Named
  })
}

function resolveRelativePaths(entry: Named, kind: 'cluster' | 'user', file: string): Named {
  const body = entry[kind]
  if (!body || typeof body !== 'object') return entry
  const copy = {...(body as Record<string, unknown>)}
  for (const field of RELATIVE_PATH_FIELDS[kind]) {
    const value = copy[field]
    if (typeof value === 'string' && value !== '' && !path.isAbsolute(value)) {
      copy[field] = path.resolve(path.dirname(path.resolve(file)), value)
    }
  }
  return {...entry, [kind]: copy}
}

/** The kubeconfig files merged by kubectl's rules: the first current-context and the first definition of a name win. */
function mergeKubeconfigs(explicit: string | undefined, env: NodeJS.ProcessEnv) {
  const files = kubeconfigFiles(explicit, env)
  const merged: ResolvedKubeconfig['merged'] = {clusters: [], users: [], contexts: []}
  const seen = {clusters: new Set<string>(), users: new Set<string>(), contexts: new Set<string>()}
  for (const file of files) {
    const doc = readKubeconfigFile(file)
    if (
      merged['current-context'] === undefined &&
      typeof doc['current-context'] === 'string' &&
      doc['current-context'] !== ''
    ) {
      merged['current-context'] = doc['current-context']
    }
    for (const key of ['clusters', 'users', 'contexts'] as const) {
      for (const entry of namedEntries(doc, key, file)) {
        if (seen[key].has(entry.name)) continue
        seen[key].add(entry.name)
        const kind = key === 'clusters' ? 'cluster' : key === 'users' ? 'user' : undefined
        merged[key].push(kind ? resolveRelativePaths(entry, kind, file) : entry)
      }
    }
  }
  return {files, merged, seen, where: files.length > 0 ? files.join(path.delimiter) : 'no kubeconfig file found'}
}

/** The context names of the merged kubeconfig, in kubectl's order, and where they were read (for messages). */
export function kubeconfigContexts(
  kubeconfig: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): {names: string[]; where: string} {
  const {merged, where} = mergeKubeconfigs(kubeconfig, env)
  return {names: merged.contexts.map((entry) => entry.name), where}
}

/**
 * Load the kubeconfig the way kubectl does. client-node's loadFromDefault differs: with several
 * KUBECONFIG files kubectl lets the first file's current-context and the first definition of a
 * name win, and it skips files that do not exist; an unknown --context fails at once.
 */
export function loadKubeconfig(options: KubeTargetOptions, env: NodeJS.ProcessEnv = process.env): ResolvedKubeconfig {
  const {files, merged, seen, where} = mergeKubeconfigs(options.kubeconfig, env)
  let contextName = options.context
  if (contextName !== undefined && !seen.contexts.has(contextName)) {
    throw new UserError(
      `context "${contextName}" does not exist in the kubeconfig (${where}); list them with: kubectl config get-contexts`,
    )
  }
  contextName ??= merged['current-context']
  if (contextName !== undefined && !seen.contexts.has(contextName)) {
    throw new UserError(
      `current-context "${contextName}" does not exist in the kubeconfig (${where}); choose one with --context`,
    )
  }
  merged['current-context'] = contextName

  const context = merged.contexts.find((entry) => entry.name === contextName)?.context as
    Record<string, unknown> | undefined
  const clusterName = typeof context?.cluster === 'string' ? context.cluster : undefined
  const userName = typeof context?.user === 'string' ? context.user : undefined
  const cluster = merged.clusters.find((entry) => entry.name === clusterName)?.cluster as
    Record<string, unknown> | undefined
  const server = typeof cluster?.server === 'string' ? cluster.server : undefined

  if (options.as !== undefined) {
    // client-node maps a user's `as` to the Impersonate-User header, as kubectl's --as does.
    if (!userName) throw new UserError('--as needs a context with a user')
    merged.users = merged.users.map((entry) =>
      entry.name === userName ? {...entry, user: {...(entry.user as object), as: options.as}} : entry,
    )
  }

  const contextNamespace =
    typeof context?.namespace === 'string' && context.namespace !== '' ? context.namespace : undefined
  return {
    files,
    contextName,
    clusterName,
    userName,
    server,
    namespace: options.namespace ?? contextNamespace ?? 'default',
    namespaceExplicit: options.namespace !== undefined,
    merged,
  }
}

/** Fail with a clear message when the chosen context cannot reach a cluster. */
export function requireServer(config: ResolvedKubeconfig): string {
  const where = config.files.length > 0 ? config.files.join(path.delimiter) : undefined
  if (!where) {
    throw new UserError('no kubeconfig found: set KUBECONFIG, pass --kubeconfig FILE, or create ~/.kube/config')
  }
  if (!config.contextName) throw new UserError(`no current-context in the kubeconfig (${where}); pass --context NAME`)
  if (!config.clusterName) throw new UserError(`context "${config.contextName}" names no cluster (kubeconfig ${where})`)
  if (!config.server) {
    throw new UserError(
      `cluster "${config.clusterName}" of context "${config.contextName}" has no server (kubeconfig ${where})`,
    )
  }
  return config.server
}

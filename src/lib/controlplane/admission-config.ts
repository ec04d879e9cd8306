import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {isMap, isSeq, parseDocument, stringify, type YAMLMap} from 'yaml'

import {describeValue, unreadableFile, yamlProblem} from '../describe-error.js'
import {UserError} from '../errors.js'

/**
 * The AdmissionConfiguration API versions kube-apiserver registers (v1 and the old alpha form);
 * apiserver.config.k8s.io/v1alpha1 keeps it from starting (checked against the real binary).
 */
export const ADMISSION_CONFIG_API_VERSIONS = ['apiserver.config.k8s.io/v1', 'apiserver.k8s.io/v1alpha1']

export interface ImagePolicySettings {
  kubeConfigFile: string
  allowTTL: number
  denyTTL: number
  retryBackoff: number
  defaultAllow: boolean
}

/** The AdmissionConfiguration we write: one ImagePolicyWebhook entry, settings inline. */
export function renderAdmissionConfiguration(settings: ImagePolicySettings): string {
  return stringify(
    {
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'AdmissionConfiguration',
      plugins: [imagePolicyPluginEntry(settings)],
    },
    {indentSeq: false},
  )
}

export function imagePolicyPluginEntry(settings: ImagePolicySettings): object {
  return {
    name: 'ImagePolicyWebhook',
    configuration: {
      apiVersion: 'imagepolicy.config.k8s.io/v1alpha1',
      kind: 'ImagePolicyWebhookConfiguration',
      imagePolicy: {...settings},
    },
  }
}

export interface AdmissionConfigCheck {
  /** Plugin names configured in the file. */
  plugins: string[]
  /** The ImagePolicyWebhook settings, when the file configures that plugin. */
  imagePolicy?: ImagePolicySettings
  /** Files the configuration refers to (plugin `path`s, the webhook kubeconfig), absolute. */
  referencedFiles: string[]
}

function readYaml(file: string, what: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UserError(unreadableFile(what, file, error))
  }
  // kube-apiserver decodes these files with go-yaml: YAML 1.1, where yes/no/on/off are booleans.
  const doc = parseDocument(text, {version: '1.1'})
  if (doc.errors.length > 0) throw new UserError(`${what} ${file} is not valid YAML (${yamlProblem(doc.errors[0])})`)
  try {
    return doc.toJS({maxAliasCount: 1000})
  } catch (error) {
    throw new UserError(`${what} ${file} is not valid YAML (${yamlProblem(error)})`)
  }
}

/**
 * A duration setting as the plugin's normalizeConfigDuration reads it: omitted or 0 means its
 * default, -1 disables, anything else is an integer in min–max.
 */
function durationProblem(name: string, value: unknown, unit: string, max: number): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'number' && Number.isInteger(value) && (value === -1 || (value >= 0 && value <= max)))
    return undefined
  return `imagePolicy.${name} must be an integer number of ${unit} in 1–${max} (0: the plugin's default, -1: disabled), not ${describeValue(value)}`
}

/**
 * Validate an ImagePolicyWebhook configuration the way the API server does at start-up (a value
 * it rejects keeps it from starting): allowTTL and denyTTL seconds in 1–1800, retryBackoff
 * milliseconds in 1–300000 (each also 0 for the default, -1 to disable, or omitted), defaultAllow
 * a boolean (default false), kubeConfigFile an absolute path. Omitted numbers come back as 0.
 */
export function validateImagePolicySettings(value: unknown, where: string): ImagePolicySettings {
  const record = value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined
  const policy = (record?.imagePolicy ?? undefined) as Record<string, unknown> | undefined
  if (!policy || typeof policy !== 'object')
    throw new UserError(
      `${where}: ImagePolicyWebhook configuration has no imagePolicy section (kubeConfigFile, allowTTL, denyTTL, retryBackoff, defaultAllow)`,
    )
  const problems: string[] = []
  if (typeof policy.kubeConfigFile !== 'string' || policy.kubeConfigFile === '')
    problems.push('imagePolicy.kubeConfigFile is required')
  else if (!path.isAbsolute(policy.kubeConfigFile))
    problems.push(
      `imagePolicy.kubeConfigFile "${policy.kubeConfigFile}" must be an absolute path (the API server resolves it in its own container)`,
    )
  for (const [name, unit, max] of [
    ['allowTTL', 'seconds', 1800],
    ['denyTTL', 'seconds', 1800],
    ['retryBackoff', 'milliseconds', 300_000],
  ] as const) {
    const problem = durationProblem(name, policy[name], unit, max)
    if (problem) problems.push(problem)
  }
  if (policy.defaultAllow !== undefined && policy.defaultAllow !== null && typeof policy.defaultAllow !== 'boolean')
    problems.push(`imagePolicy.defaultAllow must be true or false, not ${describeValue(policy.defaultAllow)}`)
  if (problems.length > 0) throw new UserError(`${where}: ${problems.join('; ')}`)
  return {
    kubeConfigFile: policy.kubeConfigFile as string,
    allowTTL: (policy.allowTTL as number | undefined) ?? 0,
    denyTTL: (policy.denyTTL as number | undefined) ?? 0,
    retryBackoff: (policy.retryBackoff as number | undefined) ?? 0,
    defaultAllow: (policy.defaultAllow as boolean | undefined) ?? false,
  }
}

/** Read and check an AdmissionConfiguration file; `requireImagePolicy` demands an ImagePolicyWebhook entry. */
export function checkAdmissionConfiguration(
  file: string,
  options: {requireImagePolicy: boolean},
): AdmissionConfigCheck {
  const doc = readYaml(file, 'admission configuration') as Record<string, unknown> | null
  if (
    !doc ||
    typeof doc !== 'object' ||
    doc.kind !== 'AdmissionConfiguration' ||
    !ADMISSION_CONFIG_API_VERSIONS.includes(String(doc.apiVersion))
  ) {
    throw new UserError(
      `${file}: expected kind AdmissionConfiguration with apiVersion ${ADMISSION_CONFIG_API_VERSIONS[0]} (or ${ADMISSION_CONFIG_API_VERSIONS.slice(1).join(', ')})`,
    )
  }
  const plugins = Array.isArray(doc.plugins) ? (doc.plugins as Array<Record<string, unknown>>) : []
  const result: AdmissionConfigCheck = {plugins: [], referencedFiles: []}
  for (const [index, plugin] of plugins.entries()) {
    const name = typeof plugin?.name === 'string' ? plugin.name : undefined
    if (!name) throw new UserError(`${file}: plugins[${index}] has no name`)
    result.plugins.push(name)
    let configuration = plugin.configuration
    if (typeof plugin.path === 'string') {
      const referenced = path.resolve(path.dirname(file), plugin.path)
      if (!existsSync(referenced))
        throw new UserError(`${file}: plugins[${index}] (${name}) path ${referenced} does not exist`)
      result.referencedFiles.push(referenced)
      if (name === 'ImagePolicyWebhook') configuration = readYaml(referenced, `${name} configuration`)
    }
    if (name === 'ImagePolicyWebhook') {
      result.imagePolicy = validateImagePolicySettings(configuration, `${file}: plugins[${index}] (ImagePolicyWebhook)`)
      result.referencedFiles.push(result.imagePolicy.kubeConfigFile)
    }
  }
  if (options.requireImagePolicy && !result.imagePolicy) {
    throw new UserError(
      `${file} has no ImagePolicyWebhook entry under plugins; the API server would start the plugin without configuration and fail`,
    )
  }
  return result
}

/**
 * Add (or replace) the ImagePolicyWebhook entry of an existing AdmissionConfiguration, keeping
 * every other plugin (EventRateLimit, PodSecurity…) and the file's comments and layout.
 */
export function mergeImagePolicyEntry(existingText: string, entry: object, file: string): string {
  const doc = parseDocument(existingText)
  if (doc.errors.length > 0) throw new UserError(`${file} is not valid YAML (${yamlProblem(doc.errors[0])})`)
  if (!isMap(doc.contents)) throw new UserError(`${file} is not an AdmissionConfiguration mapping`)
  let plugins = doc.get('plugins', true)
  if (!isSeq(plugins)) {
    doc.set('plugins', doc.createNode([]))
    plugins = doc.get('plugins', true)
  }
  const seq = plugins as unknown as {items: YAMLMap[]}
  const node = doc.createNode(entry) as YAMLMap
  const index = seq.items.findIndex((item) => isMap(item) && item.get('name') === 'ImagePolicyWebhook')
  if (index >= 0) seq.items[index] = node
  else seq.items.push(node)
  return doc.toString({indentSeq: false})
}

// The policy file: its schema, validation with file:line errors, and how flags and file combine.
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {parseDocument} from 'yaml'
import {describeValue, unreadableFile, yamlProblem} from '../describe-error.js'
import {UserError} from '../errors.js'
import {type AuditExemption, DEFAULT_POLICY, type ImagePolicy, registryPatternProblem} from './policy.js'
import {parseSignatureRequirements} from './signature-policy.js'

const POLICY_KEYS = new Set([
  'apiVersion',
  'kind',
  'allowedRegistries',
  'denyLatest',
  'denyUntagged',
  'requireDigest',
  'exemptNamespaces',
  'exemptImages',
  'privateRegistries',
  'breakGlass',
  'allowAnnotationExemptions',
  'requireNonRootImage',
  'forbidShell',
  'maxImageAgeDays',
  'imageFactsFailurePolicy',
  'exemptions',
  'requireSignature',
])
export const POLICY_API_VERSION = 'imgsec.io/v1alpha1'
export const POLICY_KIND = 'ImagePolicy'

/**
 * Validate a policy document (already parsed from YAML/JSON) and fill defaults. Every problem is
 * reported with its field path; `where(field)` turns a path into "file:line" for the message.
 * `defaults` fills the fields the document leaves out (the audit's exempt no namespace).
 */
export function validatePolicy(
  doc: unknown,
  source: string,
  where: (path: Array<string | number>) => string = () => source,
  defaults: ImagePolicy = DEFAULT_POLICY,
  baseDir = process.cwd(),
): ImagePolicy {
  const problems: string[] = []
  const problem = (path: Array<string | number>, text: string) => {
    const field = path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('')
    problems.push(`${where(path)}: ${field || '(document)'}: ${text}`)
  }
  if (doc === null || doc === undefined) doc = {}
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new UserError(
      `${source}: a policy must be a mapping (apiVersion: ${POLICY_API_VERSION}, kind: ${POLICY_KIND}, allowedRegistries: […])`,
    )
  }
  const record = doc as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (!POLICY_KEYS.has(key)) problem([key], `unknown field; known fields: ${[...POLICY_KEYS].join(', ')}`)
  }
  if (record.apiVersion !== undefined && record.apiVersion !== POLICY_API_VERSION)
    problem(['apiVersion'], `must be ${POLICY_API_VERSION}`)
  if (record.kind !== undefined && record.kind !== POLICY_KIND) problem(['kind'], `must be ${POLICY_KIND}`)
  const policy: ImagePolicy = {...defaults}
  for (const key of [
    'denyLatest',
    'denyUntagged',
    'requireDigest',
    'breakGlass',
    'allowAnnotationExemptions',
    'requireNonRootImage',
    'forbidShell',
  ] as const) {
    if (record[key] === undefined) continue
    if (typeof record[key] === 'boolean') policy[key] = record[key] as boolean
    else problem([key], `must be true or false, not ${describeValue(record[key])}`)
  }
  const age = record.maxImageAgeDays
  if (age !== undefined) {
    if (typeof age === 'number' && Number.isInteger(age) && age > 0) policy.maxImageAgeDays = age
    else problem(['maxImageAgeDays'], `must be a whole number of days above 0 (e.g. 365), not ${describeValue(age)}`)
  }
  const failurePolicy = record.imageFactsFailurePolicy
  if (failurePolicy !== undefined) {
    if (failurePolicy === 'Fail' || failurePolicy === 'Ignore') policy.imageFactsFailurePolicy = failurePolicy
    else problem(['imageFactsFailurePolicy'], `must be Fail or Ignore, not ${describeValue(failurePolicy)}`)
  }
  const stringList = (key: string, check?: (value: string) => string | undefined): string[] | undefined => {
    const value = record[key]
    if (value === undefined || value === null) return undefined
    if (!Array.isArray(value)) {
      problem([key], 'must be a list of strings')
      return undefined
    }
    return value.filter((item, index) => {
      if (typeof item !== 'string' || item === '') {
        problem([key, index], 'must be a non-empty string')
        return false
      }
      const text = check?.(item)
      // The entry is named by its place (and line), not repeated: it is the file's content.
      if (text) problem([key, index], text)
      return !text
    }) as string[]
  }
  const allowed = stringList('allowedRegistries', registryPatternProblem)
  if (allowed) policy.allowedRegistries = allowed
  const privateRegistries = stringList('privateRegistries', registryPatternProblem)
  if (privateRegistries) policy.privateRegistries = privateRegistries
  const exemptNamespaces = stringList('exemptNamespaces', (ns) =>
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns) && ns.length <= 63 ? undefined : 'not a valid namespace name',
  )
  if (exemptNamespaces) policy.exemptNamespaces = exemptNamespaces
  const exemptImages = stringList('exemptImages')
  if (exemptImages) policy.exemptImages = exemptImages
  if (record.exemptions !== undefined && record.exemptions !== null) {
    if (!Array.isArray(record.exemptions))
      problem(['exemptions'], 'must be a list of {check, namespace?, kind?, name?, container?, reason}')
    else {
      policy.exemptions = record.exemptions.flatMap((entry: unknown, index: number) => {
        if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
          problem(['exemptions', index], 'must be a mapping {check, namespace?, kind?, name?, container?, reason}')
          return []
        }
        const fields = entry as Record<string, unknown>
        let ok = true
        for (const key of Object.keys(fields)) {
          if (!['check', 'namespace', 'kind', 'name', 'container', 'reason'].includes(key)) {
            problem(['exemptions', index, key], 'unknown field; known: check, namespace, kind, name, container, reason')
            ok = false
          } else if (typeof fields[key] !== 'string' || fields[key] === '') {
            problem(['exemptions', index, key], 'must be a non-empty string')
            ok = false
          }
        }
        for (const key of ['check', 'reason']) {
          if (fields[key] === undefined) {
            problem(['exemptions', index], `needs "${key}"`)
            ok = false
          }
        }
        return ok ? [fields as unknown as AuditExemption] : []
      })
    }
  }
  const requireSignature = parseSignatureRequirements(record.requireSignature, problem, baseDir)
  if (requireSignature) policy.requireSignature = requireSignature
  if (problems.length > 0) {
    throw new UserError(`invalid image policy:\n  ${problems.join('\n  ')}`)
  }
  return policy
}

/** Read a policy file (YAML or JSON), naming the file and line of each problem; `defaults` fills what it leaves out. */
export function loadPolicyFile(file: string, defaults: ImagePolicy = DEFAULT_POLICY): ImagePolicy {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UserError(unreadableFile('--policy', `"${file}"`, error))
  }
  const document = parseDocument(text)
  if (document.errors.length > 0) {
    throw new UserError(`--policy "${file}" is not valid YAML (${yamlProblem(document.errors[0])})`)
  }
  let value: unknown
  try {
    value = document.toJS({maxAliasCount: 1000})
  } catch (error) {
    throw new UserError(`--policy "${file}" is not valid YAML (${yamlProblem(error)})`)
  }
  const lineOf = (path: Array<string | number>) => {
    const node = document.getIn(path, true) as {range?: [number, number, number]} | undefined
    const offset = node?.range?.[0]
    if (offset === undefined) return file
    return `${file}:${text.slice(0, offset).split('\n').length}`
  }
  // Key files are named relative to the policy file, wherever the command runs.
  return validatePolicy(value, file, lineOf, defaults, path.dirname(path.resolve(file)))
}

/**
 * Policy from flags on top of an optional file: `--allowed-registries a,b` replaces the file's
 * list. `defaults` (DEFAULT_POLICY unless given) fills what the file leaves out.
 */
export function resolvePolicy(options: {
  policyFile?: string
  allowedRegistries?: string[]
  requireDigest?: boolean
  defaults?: ImagePolicy
}): ImagePolicy {
  const defaults = options.defaults ?? DEFAULT_POLICY
  const policy = options.policyFile ? loadPolicyFile(options.policyFile, defaults) : {...defaults}
  if (options.allowedRegistries) {
    for (const pattern of options.allowedRegistries) {
      const text = registryPatternProblem(pattern)
      if (text) throw new UserError(`--allowed-registries: "${pattern}": ${text}`)
    }
    policy.allowedRegistries = options.allowedRegistries
  }
  if (options.requireDigest) policy.requireDigest = true
  return policy
}

/**
 * A whitelist must name its registries: a policy without allowedRegistries admits any registry,
 * which `whitelist enable` does only when asked to in so many words.
 */
export function requireAllowlist(policy: ImagePolicy, allowAnyRegistry: boolean): void {
  if (policy.allowedRegistries === undefined && !allowAnyRegistry) {
    throw new UserError(
      'a registry whitelist needs its registries: pass --allowed-registries (e.g. docker.io,registry.k8s.io) or a --policy file with allowedRegistries; to enforce only the tag rules on every registry, pass --allow-any-registry',
    )
  }
}

/**
 * A ValidatingAdmissionPolicy (`whitelist enable --mode vap`) cannot read images: a policy that asks
 * for rules on their contents is refused rather than half-enforced (`webhook serve` enforces them).
 */
export function refuseImageContentRules(policy: ImagePolicy, where: string): void {
  const asked = (['requireNonRootImage', 'forbidShell', 'maxImageAgeDays'] as const).filter(
    (field) => policy[field] !== undefined && policy[field] !== false,
  )
  if (asked.length === 0) return
  const one = asked.length === 1
  const named = one ? asked[0] : `${asked.slice(0, -1).join(', ')} and ${asked.at(-1)}`
  throw new UserError(
    `${where}: ${named} ${one ? 'needs' : 'need'} the image's contents, which a ValidatingAdmissionPolicy cannot read, so ${one ? 'it' : 'they'} would not be enforced: use the ImagePolicyWebhook mode (its backend reads images), or leave ${asked.join(', ')} out of the policy used for --mode vap (keep a separate policy file for the audit)`,
  )
}

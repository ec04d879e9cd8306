// `whitelist add-registry` / `remove-registry` (webhook mode): edit the static backend's policy
// file in place (atomically; the backend reloads it on change) after the impact report. A whitelist
// that requires signatures for all its registries (`enable --require-signature`) requires them for
// an added one too, with the same keys, unless the user says otherwise; a removed registry leaves
// requireSignature with it, so that adding it back never brings back a stale requirement.
import type {ClusterAccess} from '../cluster/connection.js'
import {UserError} from '../errors.js'
import {registryPatternProblem} from '../policy/policy.js'
import type {SignatureRequirement} from '../policy/signature-policy.js'
import {resolvePolicy} from '../policy/policy-file.js'
import {apiserverTls, awaitDecision} from './backend-probe.js'
import {BACKEND_UID, renderPolicyFile, whitelistPaths} from './files.js'
import {checkImpact} from './impact.js'
import {writeIfChanged} from './node-files.js'
import {readState} from './state.js'

export interface RegistryEdit {
  operation: 'add' | 'remove'
  /** host, host:port, host/path prefix or *.domain */
  registry: string
  /** add: true/false to require signatures for it or not; undefined: as for the other registries. */
  requireSignature?: boolean
}

export interface RegistryEditContext {
  cluster: ClusterAccess
  /** Prints the impact report's lines before the change is written. */
  report: (line: string) => void
}

/** The allowlist after adding or removing one registry pattern (both modes); refuses to empty it. */
export function editedAllowlist(before: string[], edit: RegistryEdit): {after: string[]; changed: boolean} {
  const {registry} = edit
  const problem = registryPatternProblem(registry)
  if (problem) throw new UserError(`"${registry}": ${problem}`)
  const after =
    edit.operation === 'add'
      ? before.includes(registry)
        ? before
        : [...before, registry]
      : before.filter((r) => r !== registry)
  if (after.length === 0)
    throw new UserError(
      'refusing to remove the last allowed registry: every pod outside the exempt namespaces would be refused; use "whitelist disable" instead',
    )
  return {after, changed: after.length !== before.length}
}

/**
 * requireSignature after the edit. Adding: the requirement that covers every allowed registry
 * (the one `enable --require-signature` writes) covers the new one too, unless `requireSignature`
 * is false. Removing: the registry leaves every requirement (one left with none goes).
 */
export function editedSignatureRequirements(
  requirements: SignatureRequirement[] | undefined,
  allowlistBefore: string[],
  edit: RegistryEdit,
): {requirements?: SignatureRequirement[]; signed: boolean} {
  const {registry} = edit
  if (edit.operation === 'remove') {
    const kept = (requirements ?? [])
      .map((requirement) => ({...requirement, repositories: requirement.repositories.filter((r) => r !== registry)}))
      .filter((requirement) => requirement.repositories.length > 0)
    return {requirements: kept.length > 0 ? kept : undefined, signed: false}
  }
  const covering = requirements?.find((requirement) =>
    allowlistBefore.every((allowed) => requirement.repositories.includes(allowed)),
  )
  if (edit.requireSignature === false || (!covering && edit.requireSignature === undefined))
    return {requirements, signed: false}
  if (!covering)
    throw new UserError(
      `--require-signature: no requireSignature covers all the allowed registries, so there are no keys to require for ${registry}; run "whitelist enable --require-signature --trusted-key KEY" (or give requireSignature in its --policy file)`,
    )
  return {
    requirements: requirements!.map((requirement) =>
      requirement === covering && !requirement.repositories.includes(registry)
        ? {...requirement, repositories: [...requirement.repositories, registry]}
        : requirement,
    ),
    signed: true,
  }
}

/** An image of `registry` to ask the backend about. */
export function probeImage(registry: string): string {
  return `${registry.replace(/^\*\./, 'probe.')}${registry.includes('/') ? '' : '/imgsec'}/probe:1.0`
}

/**
 * Change the allowlist in the backend's policy file and confirm that the backend now decides by
 * it (its decision for an image of that registry follows the new list).
 */
export async function editAllowedRegistries(
  options: RegistryEdit & {configDir: string; force: boolean; timeoutMs: number},
  context: RegistryEditContext,
): Promise<{
  changed: boolean
  allowedRegistries: string[]
  confirmed: boolean | undefined
  /** add: its images must be signed; remove: it left requireSignature. */
  signed?: boolean
  unsigned?: boolean
}> {
  const paths = whitelistPaths(options.configDir)
  const state = readState(options.configDir)
  if (!state || state.placement !== 'static')
    throw new UserError(
      `no static-pod backend enabled with --config-dir ${paths.configDir}; edit your own backend's policy instead`,
    )
  const policy = resolvePolicy({policyFile: paths.policy})
  if (!policy.allowedRegistries)
    throw new UserError(
      `${paths.policy} has no allowedRegistries (any registry is allowed); set a list with "whitelist enable --allowed-registries …"`,
    )
  const before = policy.allowedRegistries
  const {after, changed} = editedAllowlist(before, options)
  if (!changed) return {changed: false, allowedRegistries: before, confirmed: undefined}
  const {requirements, signed} = editedSignatureRequirements(policy.requireSignature, before, options)
  const edited = {...policy, allowedRegistries: after, requireSignature: requirements}
  // Impact before change: the running pods the edited policy would refuse.
  for (const line of await checkImpact(edited, context.cluster, {force: options.force})) context.report(line)
  writeIfChanged(paths.policy, renderPolicyFile(edited), 0o644, [], BACKEND_UID)
  const confirmed = await awaitDecision(
    state.webhookUrl,
    apiserverTls(paths),
    probeImage(options.registry),
    // A registry whose images must be signed: its tag-only probe is refused for that, no longer for its registry.
    signed
      ? (status) =>
          status.allowed === false &&
          (status.reason ?? '').includes('image-signature-missing') &&
          !(status.reason ?? '').includes('image-registry-not-allowed')
      : options.operation === 'add',
    options.timeoutMs,
  )
  const unsigned =
    options.operation === 'remove' &&
    (policy.requireSignature ?? []).some((requirement) => requirement.repositories.includes(options.registry))
  return {changed: true, allowedRegistries: after, confirmed, signed, unsigned}
}

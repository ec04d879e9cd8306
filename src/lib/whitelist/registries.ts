// `whitelist add-registry` / `remove-registry` (webhook mode): edit the static backend's policy
// file in place (atomically; the backend reloads it on change) after the impact report.
import type {ClusterAccess} from '../cluster/connection.js'
import {UserError} from '../errors.js'
import {registryPatternProblem} from '../policy/policy.js'
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
): Promise<{changed: boolean; allowedRegistries: string[]; confirmed: boolean | undefined}> {
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
  // Impact before change: the running pods the edited allowlist would refuse.
  for (const line of await checkImpact({...policy, allowedRegistries: after}, context.cluster, {force: options.force}))
    context.report(line)
  writeIfChanged(paths.policy, renderPolicyFile({...policy, allowedRegistries: after}), 0o644, [], BACKEND_UID)
  const confirmed = await awaitDecision(
    state.webhookUrl,
    apiserverTls(paths),
    probeImage(options.registry),
    options.operation === 'add',
    options.timeoutMs,
  )
  return {changed: true, allowedRegistries: after, confirmed}
}

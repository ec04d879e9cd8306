// `whitelist enable` (webhook mode): preflight → plan → print it (--dry-run=client) or apply it.
// One path: the dry run prints the very plan a real run applies.
import {accessSync, constants, existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {type ClusterAccess, requireClient} from '../cluster/connection.js'
import {locateApiserver, readFlags} from '../controlplane/apiserver-manifest.js'
import {readMirrorPod} from '../controlplane/apiserver-restart.js'
import type {BackupRecord} from '../controlplane/backups.js'
import {persistToKubeadmConfig} from '../controlplane/kubeadm-config.js'
import {
  applyApiserverPatch,
  kubeadmChangeOf,
  planApiserverPatch,
  planChangesSomething,
} from '../controlplane/patch-apiserver.js'
import {UndoJournal} from '../controlplane/undo-journal.js'
import {UserError} from '../errors.js'
import {resolveBackendImage} from './backend-image.js'
import {checkBackend} from './backend-probe.js'
import {whitelistPaths} from './files.js'
import {checkImpact} from './impact.js'
import {ensureDir, sha256, writeIfChanged} from './node-files.js'
import {loadOrCreatePki} from './pki.js'
import {type AppliedBackend, bindPlacement, type BoundPlacement} from './placements/index.js'
import {
  acceptPolicyProblems,
  IMAGE_POLICY_PLUGIN,
  planWhitelist,
  type RenderedFile,
  renderDryRun,
  type ResolvedEnableOptions,
  type WhitelistEnableOptions,
  type WhitelistPlan,
  whitelistPolicy,
} from './plan.js'
import type {RestartWatch} from './smoke.js'
import {readRegistryCredentials} from './registry-credentials.js'
import {readState, type WhitelistResult, type WhitelistState} from './state.js'
import {splitCommaList} from '../comma-list.js'

export interface EnableContext {
  /** The one client, from the kubeconfig flags (none needed by the static placement). */
  cluster: ClusterAccess
  /** Prints a warning at once (before the impact report). */
  warnNow: (warning: string) => void
}

export interface EnableResult extends WhitelistResult {
  /** Which running pods the policy would refuse (printed first). */
  impact: string[]
  /** --dry-run=client: every file and object the plan writes, nothing written. */
  dryRun?: RenderedFile[]
  /** --wait: what to watch for kube-apiserver's restart. */
  restart?: RestartWatch
}

/** The default backend image, resolved (over the network unless given or a dry run). */
async function resolveOptions(options: WhitelistEnableOptions): Promise<ResolvedEnableOptions> {
  if (options.placement === 'external') return options
  return {...options, backendImage: await resolveBackendImage(options.backendImage, options.dryRun)}
}

/** The manifest this node's kubelet runs kube-apiserver from; a real run must be able to write it. */
function readManifest(options: ResolvedEnableOptions): {manifest: string; manifestText: string} {
  const manifest = path.join(path.resolve(options.manifestsDir), 'kube-apiserver.yaml')
  if (!existsSync(manifest)) {
    throw new UserError(
      options.dryRun
        ? `${manifest} does not exist: run on a control-plane node, or pass --manifests-dir`
        : `${manifest} does not exist: run "whitelist enable" on a control-plane node (kubeadm keeps the API server manifest there), or pass --manifests-dir`,
    )
  }
  const manifestText = readFileSync(manifest, 'utf8')
  if (options.dryRun) return {manifest, manifestText}
  locateApiserver(manifestText, manifest)
  try {
    accessSync(manifest, constants.W_OK)
    accessSync(path.dirname(manifest), constants.W_OK)
  } catch {
    throw new UserError(
      `cannot write ${manifest}: run "whitelist enable" as root on the control-plane node (sudo); nothing was changed`,
    )
  }
  return {manifest, manifestText}
}

/** Everything checked before a plan is made: the manifest, the policy, the placement's flags and cluster. */
export async function preflightAndPlan(
  options: ResolvedEnableOptions,
  placement: BoundPlacement,
  context: EnableContext,
): Promise<{plan: WhitelistPlan; impact: string[]; dockerConfig?: string}> {
  const {manifest, manifestText} = readManifest(options)
  const {policy, problems} = whitelistPolicy(options, placement.policyNeeds())
  const credentials = await readRegistryCredentials(options, policy, context.cluster)
  const warnings = acceptPolicyProblems(problems, options.force)
  placement.check(options.dryRun)
  const target = await placement.preflight({
    cluster: context.cluster,
    dryRun: options.dryRun,
    warnings,
    warnNow: context.warnNow,
  })
  // Impact before change, after the preflight and before anything is written (read-only: a dry run shows it too).
  const impact = await checkImpact(policy, context.cluster, {force: options.force})
  const paths = whitelistPaths(options.configDir)
  const plan = planWhitelist({
    placement: placement.name,
    paths,
    manifest,
    manifestText,
    policy,
    settings: options.settings,
    target,
    warnings,
    keyDir: placement.keyDir(paths),
    registryCredentials: credentials && {source: credentials.source},
    backend: (policyText) =>
      placement.plan({
        paths,
        policy,
        policyText,
        target,
        registryCredentials: credentials && {source: credentials.source},
      }),
  })
  return {plan, impact, dockerConfig: credentials?.text}
}

/**
 * `whitelist enable`: files, backend, then the API server — in that order, so the API server
 * only ever points at a backend that answers.
 */
export async function enableWhitelist(given: WhitelistEnableOptions, context: EnableContext): Promise<EnableResult> {
  const options = await resolveOptions(given)
  let restart: RestartWatch | undefined
  if (options.wait && !options.dryRun) {
    // Note the mirror pod before the restart.
    const client = requireClient(context.cluster)
    restart = {
      client,
      before: await client.call({verb: 'list', resource: 'pods', namespace: 'kube-system'}, () =>
        readMirrorPod(client),
      ),
    }
  }
  const placement = bindPlacement(options)
  const {plan, impact, dockerConfig} = await preflightAndPlan(options, placement, context)
  if (options.dryRun) return {impact, dryRun: renderDryRun(plan), changes: [], warnings: plan.warnings, backups: []}
  return {...(await applyPlan(plan, placement, options, {...context, dockerConfig})), impact, restart}
}

async function applyPlan(
  plan: WhitelistPlan,
  placement: BoundPlacement,
  options: ResolvedEnableOptions,
  context: EnableContext & {dockerConfig?: string},
): Promise<WhitelistResult> {
  const {paths, manifest} = plan
  const changes: string[] = []
  const warnings = [...plan.warnings]
  const backups: BackupRecord[] = []
  const previous = readState(options.configDir)
  // Everything this run writes or creates is journaled: if a later step fails (the backend does
  // not answer, the manifest preflight refuses), it is all put back and nothing is half-made.
  const journal = new UndoJournal()
  let patched = false
  try {
    ensureDir(paths.configDir, undefined, journal)
    ensureDir(paths.pkiDir, undefined, journal)
    const pki = await loadOrCreatePki(paths, changes)
    writeIfChanged(paths.caCert, pki.ca.certPem, 0o644, changes, undefined, journal)
    writeIfChanged(paths.caKey, pki.ca.keyPem, 0o600, changes, undefined, journal)
    writeIfChanged(paths.clientCert, pki.client.certPem, 0o644, changes, undefined, journal)
    writeIfChanged(paths.clientKey, pki.client.keyPem, 0o600, changes, undefined, journal)
    const backend = await placement.apply(plan.backend, plan.target, {
      paths,
      pki,
      cluster: context.cluster,
      journal,
      changes,
      backups,
      options,
      previous,
      dockerConfig: context.dockerConfig,
    })
    for (const file of [plan.webhookKubeconfig, plan.admissionConfig])
      writeIfChanged(file.path, file.content, file.mode, changes, undefined, journal)

    const check = await checkBackend(
      plan.target.webhookUrl,
      {ca: readFileSync(plan.trustedCa, 'utf8'), cert: pki.client.certPem, key: pki.client.keyPem},
      options.backendTimeoutMs,
      plan.policyDigest,
    )
    if (!check.answering)
      throw new UserError(
        `the image policy backend is not answering, so the API server was NOT changed: ${check.detail}${plan.backend.notAnsweringHint}`,
      )
    changes.push(`backend check: ${check.detail}`)

    const flagsBefore = readFlags(readFileSync(manifest, 'utf8'), manifest)
    const patch = await planApiserverPatch({
      manifest,
      backupDir: options.backupDir,
      enablePlugins: plan.apiserverEdit.enablePlugins,
      disablePlugins: [],
      admissionConfig: plan.apiserverEdit.admissionConfig,
      setFlags: {},
      removeFlags: [],
      hostPaths: plan.apiserverEdit.hostPaths,
      force: options.force,
    })
    warnings.push(...patch.warnings)
    if (options.persistKubeadmConfig) {
      // Recorded before the manifest is written, as patch-apiserver does: "kubeadm upgrade" then keeps the plugin.
      const recorded = await persistToKubeadmConfig(requireClient(context.cluster), kubeadmChangeOf(patch))
      changes.push(...recorded.map((line) => `kubeadm-config: ${line}`))
    }
    if (planChangesSomething(patch)) {
      backups.push(...applyApiserverPatch(patch, options.backupDir, options.command))
      changes.push(...patch.changes.map((change) => `kube-apiserver: ${change}`))
    }
    // From here the API server's manifest names these files: they must stay.
    patched = true
    const state = stateOf({options, plan, backend, previous, flagsBefore, patch, backups})
    writeIfChanged(paths.state, JSON.stringify(state, null, 2) + '\n', 0o600, [])
    return {changes, warnings, backups}
  } catch (error) {
    if (patched) throw error
    const problems = await journal.rollback()
    const undone =
      problems.length === 0
        ? 'everything this run had written or created was removed again'
        : `undoing what this run had written left: ${problems.join('; ')}`
    if (error instanceof UserError) throw new UserError(`${error.message} (${undone})`)
    throw error
  }
}

/** What disable needs to undo exactly this run (and what a first run recorded, on a re-run). */
export function stateOf({
  options,
  plan,
  backend,
  previous,
  flagsBefore,
  patch,
  backups,
}: {
  options: Pick<ResolvedEnableOptions, 'port' | 'persistKubeadmConfig'>
  plan: Pick<WhitelistPlan, 'placement' | 'manifest' | 'target'>
  backend: AppliedBackend
  previous?: WhitelistState
  flagsBefore: Map<string, string>
  patch: Pick<Awaited<ReturnType<typeof planApiserverPatch>>, 'addedVolumes' | 'admissionConfig'>
  backups: BackupRecord[]
}): WhitelistState {
  const state: WhitelistState = {
    version: 1,
    placement: plan.placement,
    port: options.port,
    manifest: plan.manifest,
    staticPod: backend.staticPod,
    webhookUrl: plan.target.webhookUrl,
    // A second enable adds nothing: keep what the first one recorded.
    enabledPlugin:
      previous?.enabledPlugin ??
      !splitCommaList(flagsBefore.get('enable-admission-plugins')).includes(IMAGE_POLICY_PLUGIN),
    setConfigFlag: previous?.setConfigFlag ?? !flagsBefore.has('admission-control-config-file'),
    addedVolumes: [...new Set([...(previous?.addedVolumes ?? []), ...patch.addedVolumes])],
    mergedConfig: previous?.mergedConfig,
    ...(backend.registryCredentials ? {registryCredentials: backend.registryCredentials} : {}),
    ...(options.persistKubeadmConfig || previous?.kubeadmConfig ? {kubeadmConfig: true} : {}),
    ...(backend.objects
      ? {
          objects: backend.objects.map((o) => ({
            apiVersion: o.apiVersion,
            kind: o.kind,
            metadata: {name: o.metadata.name, ...(o.metadata.namespace ? {namespace: o.metadata.namespace} : {})},
          })),
        }
      : {}),
  }
  const merged = patch.admissionConfig
  if (merged && merged.before !== merged.after) {
    const backup = backups.find((record) => record.file === path.resolve(merged.file))
    if (backup) state.mergedConfig = {file: merged.file, sha256: sha256(merged.after), backup: backup.backup}
  }
  return state
}

import {accessSync, constants, existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {checkAdmissionConfiguration, imagePolicyPluginEntry, mergeImagePolicyEntry} from './admission-config.js'
import {checkApiserverStart} from './apiserver-start-rules.js'
import {type ApiserverEdit, editApiserverManifest, readFlags} from './apiserver-manifest.js'
import {writeFileAtomic} from '../atomic-write.js'
import {backupFile, type BackupRecord} from './backups.js'
import {describeSystemError} from '../describe-error.js'
import {UserError} from '../errors.js'
import type {KubeadmApiServerChange} from './kubeadm-config.js'
import {chooseRelease, manifestRelease, unknownNameProblems} from './kube-apiserver-names.js'
import {checkServingCertificate, checkWebhookKubeconfig} from './webhook-kubeconfig.js'

import {DEFAULT_BACKUP_DIR, DEFAULT_MANIFEST} from './paths.js'
import {splitCommaList} from '../comma-list.js'

export {DEFAULT_BACKUP_DIR, DEFAULT_MANIFEST} from './paths.js'
const CONFIG_FLAG = 'admission-control-config-file'

export interface PatchApiserverOptions {
  manifest: string
  backupDir: string
  enablePlugins: string[]
  disablePlugins: string[]
  /** AdmissionConfiguration to use; merged into the existing one when the manifest already names another. */
  admissionConfig?: string
  setFlags: Record<string, string>
  removeFlags: string[]
  /** Extra host paths the API server must see (the whitelist's config directory). */
  hostPaths?: string[]
  removeVolumes?: string[]
  /** Add mounts for the files the API server will read (default). An undo (whitelist disable) adds nothing. */
  mountReferencedFiles?: boolean
  force: boolean
  /** Only show the change: the manifest need not be writable (a dry run as a normal user). */
  dryRun?: boolean
}

export interface FileChange {
  file: string
  before: string
  after: string
}

export interface PatchPlan {
  manifest: FileChange
  /** The existing admission configuration file, when our entry is merged into it. */
  admissionConfig?: FileChange
  changes: string[]
  warnings: string[]
  addedVolumes: string[]
}

function readManifest(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT')
      throw new UserError(
        `manifest ${file} does not exist; on a kubeadm control-plane node it is ${DEFAULT_MANIFEST}, elsewhere pass --manifest`,
      )
    throw new UserError(
      `manifest ${file} cannot be read: ${describeSystemError(error)}${code === 'EACCES' ? '; run as root on the control-plane node' : ''}`,
    )
  }
}

/** The manifest and its directory (for the temporary file) must be writable; say plainly what that means. */
function checkWritable(file: string): void {
  for (const target of [file, path.dirname(path.resolve(file))]) {
    try {
      accessSync(target, constants.W_OK)
    } catch (error) {
      throw new UserError(
        `cannot write ${target} (${describeSystemError(error)}): run this on the control-plane node as root (sudo), nothing was changed`,
      )
    }
  }
}

/** The kubelet runs every non-hidden file of the manifests directory: backups must live elsewhere. */
export function checkBackupDir(manifest: string, backupDir: string): void {
  const manifestsDir = path.resolve(path.dirname(manifest))
  const dir = path.resolve(backupDir)
  if (dir === manifestsDir || dir.startsWith(manifestsDir + path.sep)) {
    throw new UserError(
      `--backup-dir ${dir} is inside ${manifestsDir}: the kubelet would run a backed-up kube-apiserver.yaml as a second API server; use a directory outside it (default ${DEFAULT_BACKUP_DIR})`,
    )
  }
}

/**
 * Work out every change and check it as the API server will, before anything is written.
 * Problems the API server would fail on stop the plan unless `force`.
 */
export async function planApiserverPatch(options: PatchApiserverOptions): Promise<PatchPlan> {
  checkBackupDir(options.manifest, options.backupDir)
  const before = readManifest(options.manifest)
  if (!options.dryRun) checkWritable(options.manifest)
  const flags = readFlags(before, options.manifest)
  const warnings: string[] = []
  // Names the real binary would refuse (a typo in a plugin or flag): it would not start.
  const problems: string[] = unknownNameProblems(
    {
      enablePlugins: options.enablePlugins,
      disablePlugins: options.disablePlugins,
      setFlags: Object.keys(options.setFlags),
    },
    chooseRelease(manifestRelease(before)),
  )
  const edit: ApiserverEdit = {
    enablePlugins: options.enablePlugins,
    disablePlugins: options.disablePlugins,
    setFlags: {...options.setFlags},
    removeFlags: options.removeFlags,
    hostPaths: [...(options.hostPaths ?? [])],
    removeVolumes: options.removeVolumes,
  }
  let admissionConfig: FileChange | undefined
  const enablingImagePolicy =
    options.enablePlugins.includes('ImagePolicyWebhook') ||
    (splitCommaList(flags.get('enable-admission-plugins')).includes('ImagePolicyWebhook') &&
      !options.disablePlugins.includes('ImagePolicyWebhook'))
  // A config flag that this edit removes needs no checking and no mount.
  const existingConfig = options.removeFlags.includes(CONFIG_FLAG) ? undefined : flags.get(CONFIG_FLAG)
  let configFile = existingConfig
  if (options.admissionConfig) {
    const given = path.resolve(options.admissionConfig)
    const givenCheck = checkAdmissionConfiguration(given, {requireImagePolicy: enablingImagePolicy})
    if (existingConfig && path.resolve(existingConfig) !== given) {
      // An existing file (EventRateLimit, PodSecurity…) is merged into, never replaced.
      if (!existsSync(existingConfig))
        throw new UserError(
          `the manifest names --${CONFIG_FLAG}=${existingConfig}, which does not exist on this node; fix or remove that flag first`,
        )
      if (givenCheck.imagePolicy) {
        const current = readFileSync(existingConfig, 'utf8')
        const merged = mergeImagePolicyEntry(current, imagePolicyPluginEntry(givenCheck.imagePolicy), existingConfig)
        if (merged !== current) admissionConfig = {file: existingConfig, before: current, after: merged}
      }
    } else {
      edit.setFlags![CONFIG_FLAG] = given
      configFile = given
    }
  }
  if (enablingImagePolicy && !configFile && !options.admissionConfig) {
    problems.push(
      `ImagePolicyWebhook needs an admission configuration: pass --admission-config FILE (the API server refuses to start the plugin without one)`,
    )
  }

  // Every file the API server will read must be visible inside its pod.
  let configuredPlugins: string[] | undefined
  if (configFile && (existsSync(configFile) || admissionConfig)) {
    edit.hostPaths!.push(path.dirname(path.resolve(configFile)))
    const check = admissionConfig
      ? undefined
      : checkAdmissionConfiguration(path.resolve(configFile), {requireImagePolicy: enablingImagePolicy})
    configuredPlugins = check?.plugins ?? [
      ...checkAdmissionConfiguration(path.resolve(configFile), {requireImagePolicy: false}).plugins,
      'ImagePolicyWebhook',
    ]
    const imagePolicy =
      check?.imagePolicy ??
      (options.admissionConfig
        ? checkAdmissionConfiguration(path.resolve(options.admissionConfig), {requireImagePolicy: false}).imagePolicy
        : undefined)
    for (const file of check?.referencedFiles ?? []) edit.hostPaths!.push(path.dirname(file))
    if (imagePolicy) {
      const webhook = checkWebhookKubeconfig(imagePolicy.kubeConfigFile)
      edit.hostPaths!.push(
        path.dirname(imagePolicy.kubeConfigFile),
        ...webhook.referencedFiles.map((file) => path.dirname(file)),
      )
      if (webhook.caFile) {
        const serving = await checkServingCertificate(webhook.server, webhook.caFile)
        if ('problem' in serving)
          problems.push(
            `webhook kubeconfig ${imagePolicy.kubeConfigFile}: ${serving.problem}; the API server would refuse every connection to the backend`,
          )
        else if ('unreachable' in serving) {
          const consequence = imagePolicy.defaultAllow
            ? 'pods are admitted unchecked (defaultAllow: true)'
            : 'every pod creation is refused (defaultAllow: false)'
          warnings.push(
            `the image policy backend ${webhook.server} is not reachable now (${serving.unreachable}); until it is, ${consequence}`,
          )
        }
      }
    }
  }
  edit.hostPaths = options.mountReferencedFiles === false ? [] : [...new Set(edit.hostPaths)]

  const result = editApiserverManifest(before, edit, options.manifest)
  const after = readFlags(result.text, options.manifest)
  const enabled = splitCommaList(after.get('enable-admission-plugins'))
  const both = splitCommaList(after.get('disable-admission-plugins')).filter((plugin) => enabled.includes(plugin))
  if (both.length > 0)
    problems.push(`${both.join(', ')} would be in both --enable-admission-plugins and --disable-admission-plugins`)
  const start = checkApiserverStart(flags, after, configuredPlugins)
  problems.push(...start.problems)
  warnings.push(...start.warnings)
  if (problems.length > 0 && !options.force) {
    throw new UserError(
      `refusing to change ${options.manifest} (nothing written):\n  ${problems.join('\n  ')}\nfix these, or pass --force to write anyway`,
    )
  }
  warnings.push(...problems.map((problem) => `forced despite: ${problem}`))
  const changes = [
    ...(admissionConfig ? [`merge the ImagePolicyWebhook entry into ${admissionConfig.file}`] : []),
    ...result.changes,
  ]
  return {
    manifest: {file: options.manifest, before, after: result.text},
    admissionConfig,
    changes,
    warnings,
    addedVolumes: result.addedVolumes,
  }
}

/** What kubeadm's ClusterConfiguration needs to produce the same manifest on `kubeadm upgrade`. */
export function kubeadmChangeOf(plan: PatchPlan): KubeadmApiServerChange {
  const before = readFlags(plan.manifest.before, plan.manifest.file)
  const after = readFlags(plan.manifest.after, plan.manifest.file)
  const volumes = (text: string) =>
    new Map(
      (
        (parseYaml(text) as {spec?: {volumes?: Array<{name?: string; hostPath?: {path?: string}}>}})?.spec?.volumes ??
        []
      )
        .filter((v) => v.name && v.hostPath?.path)
        .map((v) => [v.name!, v.hostPath!.path!]),
    )
  const volumesBefore = volumes(plan.manifest.before)
  const volumesAfter = volumes(plan.manifest.after)
  return {
    setArgs: Object.fromEntries([...after].filter(([name, value]) => before.get(name) !== value)),
    removeArgs: [...before.keys()].filter((name) => !after.has(name)),
    addVolumes: [...volumesAfter]
      .filter(([name]) => !volumesBefore.has(name))
      .map(([name, hostPath]) => ({name, path: hostPath})),
    removeVolumes: [...volumesBefore.keys()].filter((name) => !volumesAfter.has(name)),
  }
}

export function planChangesSomething(plan: PatchPlan): boolean {
  return (
    plan.manifest.after !== plan.manifest.before ||
    (plan.admissionConfig !== undefined && plan.admissionConfig.after !== plan.admissionConfig.before)
  )
}

/**
 * Write a plan: back up each file first (outside the manifests directory), then write atomically —
 * the admission configuration before the manifest, so the restarted API server finds it.
 */
export function applyApiserverPatch(plan: PatchPlan, backupDir: string, command: string): BackupRecord[] {
  const backups: BackupRecord[] = []
  for (const change of [plan.admissionConfig, plan.manifest]) {
    if (!change || change.after === change.before) continue
    backups.push(backupFile(change.file, backupDir, command))
    writeFileAtomic(change.file, change.after)
  }
  return backups
}

export {backupsOf, restoreBackup} from './restore.js'

import {createHash, X509Certificate} from 'node:crypto'
import {accessSync, chmodSync, chownSync, constants, existsSync, mkdirSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {stringify} from 'yaml'

import {checkAdmissionConfiguration, type ImagePolicySettings, renderAdmissionConfiguration} from '../controlplane/admission-config.js'
import {editApiserverManifest, locateApiserver, readFlags, splitList} from '../controlplane/apiserver-manifest.js'
import {writeFileAtomic} from '../atomic-write.js'
import {httpsRequest, type TlsClient} from '../https-request.js'
import {pollUntil} from '../poll.js'
import {backupFile, type BackupRecord} from '../controlplane/backups.js'
import {createCertificateAuthority, describeCertificate, issueCertificate, type KeyPairPem} from './certificates.js'
import {describeSystemError} from '../describe-error.js'
import {UserError} from '../errors.js'
import {parseImageReference} from '../image/image-reference.js'
import {applyApiserverPatch, backupsOf, kubeadmChangeOf, planApiserverPatch, planChangesSomething} from '../controlplane/patch-apiserver.js'
import {persistToKubeadmConfig} from '../controlplane/kubeadm-config.js'
import {applyObjects, deleteObjects} from '../cluster/apply.js'
import {createKubeClient, type KubeClient, serverVersion} from '../cluster/kube-client.js'
import type {KubeTargetOptions} from '../cluster/kubeconfig.js'
import {objectName} from '../cluster/objects.js'
import {missingPermissions} from '../cluster/rbac-preflight.js'
import {BACKEND_NAME, nodeInternalIP, renderDeploymentBackend, waitForDeployment} from './deployment.js'
import {versionWarning} from './smoke.js'
import {evaluateImage, type ImagePolicy, registryPatternProblem, requireAllowlist, resolvePolicy} from '../policy/policy.js'
import {BACKEND_UID, renderPolicyFile, renderStaticPod, whitelistPaths, type WhitelistPaths} from './files.js'
import {checkWebhookKubeconfig, renderWebhookKubeconfig} from '../controlplane/webhook-kubeconfig.js'
import {UndoJournal} from '../controlplane/undo-journal.js'
import {POLICY_DIGEST_HEADER} from '../webhook/webhook-server.js'
import {checkImpact} from './impact.js'

export {DEFAULT_CONFIG_DIR, DEFAULT_MANIFESTS_DIR} from '../controlplane/paths.js'
export const STATIC_POD_FILE = 'imgsec-webhook.yaml'
const PLUGIN = 'ImagePolicyWebhook'

export interface WhitelistEnableOptions {
  configDir: string
  manifestsDir: string
  backupDir: string
  placement: 'static' | 'deployment' | 'external'
  port: number
  /** Deployment placement: namespace, NodePort, the node address the API server dials, the cluster. */
  namespace?: string
  nodePort?: number
  nodeAddress?: string
  kube?: KubeTargetOptions
  webhookUrl?: string
  webhookCa?: string
  policyFile?: string
  allowedRegistries?: string[]
  /** Enforce a policy that names no registries (only its tag and digest rules). */
  allowAnyRegistry?: boolean
  /** The Deployment placement with defaultAllow false, knowing it can lock pod creation out. */
  acceptLockoutRisk?: boolean
  /** Record the flags and volumes in ConfigMap kube-system/kubeadm-config, so that "kubeadm upgrade" keeps them. */
  persistKubeadmConfig?: boolean
  settings: Omit<ImagePolicySettings, 'kubeConfigFile'>
  backendImage: string
  /** Deployment placement only: `bouncer` runs the seeds' kube-image-bouncer instead of our backend. */
  backend?: 'imgsec' | 'bouncer'
  backendTimeoutMs: number
  force: boolean
  command: string
}

/** What enable changed, so that disable removes exactly that. */
export interface WhitelistState {
  version: 1
  placement: 'static' | 'deployment' | 'external'
  /** Deployment placement: the objects to delete on disable. */
  objects?: Array<{apiVersion: string; kind: string; metadata: {name: string; namespace?: string}}>
  port: number
  manifest: string
  staticPod?: string
  webhookUrl: string
  enabledPlugin: boolean
  setConfigFlag: boolean
  addedVolumes: string[]
  mergedConfig?: {file: string; sha256: string; backup: string}
  /** enable recorded its flags in kubeadm-config: disable takes them out again. */
  kubeadmConfig?: boolean
}

export interface WhitelistResult {
  changes: string[]
  warnings: string[]
  backups: BackupRecord[]
  /** enable: the impact report's lines (which running pods the policy would refuse). */
  impact?: string[]
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex')

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

/** Write a file only when its content changes (atomic, exact mode); returns whether it did. */
function writeIfChanged(file: string, content: string, mode: number, changes: string[], owner?: number, journal?: UndoJournal): boolean {
  const current = readIfExists(file)
  if (current === content) return false
  journal?.rememberDir(path.dirname(file))
  journal?.rememberFile(file)
  mkdirSync(path.dirname(file), {recursive: true, mode: 0o700})
  writeFileAtomic(file, content, {mode})
  chmodSync(file, mode)
  if (owner !== undefined && process.getuid?.() === 0) chownSync(file, owner, owner)
  changes.push(`${current === undefined ? 'wrote' : 'updated'} ${file}`)
  return true
}

function ensureDir(dir: string, owner?: number, journal?: UndoJournal): void {
  journal?.rememberDir(dir)
  mkdirSync(dir, {recursive: true, mode: 0o700})
  chmodSync(dir, 0o700)
  if (owner !== undefined && process.getuid?.() === 0) chownSync(dir, owner, owner)
}

/** The policy to enforce; a policy that would block the control plane is refused unless forced. */
export function whitelistPolicy(options: Pick<WhitelistEnableOptions, 'policyFile' | 'allowedRegistries' | 'allowAnyRegistry' | 'backendImage' | 'placement' | 'force' | 'namespace' | 'settings' | 'acceptLockoutRisk'>): {policy: ImagePolicy; problems: string[]} {
  if (options.placement === 'deployment' && !options.settings.defaultAllow && !options.acceptLockoutRisk) {
    throw new UserError('the Deployment placement with defaultAllow false can lock the cluster out: once every backend pod is gone (a drain, an eviction), kube-apiserver refuses every pod creation and update in every namespace, the backend\'s own replacements included, and only "whitelist disable" or "patch-apiserver --restore" on each control-plane node brings pod creation back. Use the static placement (the default), or --default-allow, or pass --accept-lockout-risk')
  }
  const policy = resolvePolicy({policyFile: options.policyFile, allowedRegistries: options.allowedRegistries})
  requireAllowlist(policy, options.allowAnyRegistry ?? false)
  // An in-cluster backend must never review its own pods: with defaultAllow false a dead backend would block its replacement.
  if (options.placement === 'deployment' && options.namespace && !policy.exemptNamespaces.includes(options.namespace)) policy.exemptNamespaces = [...policy.exemptNamespaces, options.namespace]
  const problems: string[] = []
  const controlPlaneImages = ['registry.k8s.io/kube-apiserver:v1.32.0', 'registry.k8s.io/coredns/coredns:v1.11.3', 'registry.k8s.io/pause:3.10']
  if (options.placement === 'static') controlPlaneImages.push(options.backendImage)
  for (const image of controlPlaneImages) {
    const verdict = evaluateImage(image, {namespace: 'kube-system'}, policy)
    if (!verdict.allowed) problems.push(`the policy would refuse ${image} in kube-system (${verdict.violations.map((v) => v.rule).join(', ')}); keep kube-system in exemptNamespaces or allow the image`)
  }
  return {policy, problems}
}

async function loadOrCreatePki(paths: WhitelistPaths, serverHosts: string[], changes: string[]): Promise<{ca: KeyPairPem; client: KeyPairPem; serving?: KeyPairPem}> {
  const existingCa = readIfExists(paths.caCert)
  const existingCaKey = readIfExists(paths.caKey)
  let ca: KeyPairPem
  if (existingCa && existingCaKey) ca = {certPem: existingCa, keyPem: existingCaKey}
  else {
    ca = await createCertificateAuthority('kubectl-imgsec image policy CA')
    changes.push('generated a CA for the image policy backend')
  }
  const reuse = async (certFile: string, keyFile: string, wantedNames?: string[]) => {
    const certPem = readIfExists(certFile)
    const keyPem = readIfExists(keyFile)
    if (!certPem || !keyPem || existingCa === undefined) return undefined
    const info = await describeCertificate(certPem)
    if (info.notAfter.getTime() < Date.now() + 30 * 24 * 3600 * 1000) return undefined
    if (wantedNames && !wantedNames.every((name) => info.names.includes(name))) return undefined
    return {certPem, keyPem}
  }
  const client = await reuse(paths.clientCert, paths.clientKey) ?? await issueCertificate(ca, {commonName: 'kube-apiserver-imgsec-client', usage: 'client'})
  const names = serverHosts.map((host) => (/^[\d.]+$|:/.test(host) ? `IP:${host.replace(/^\[|\]$/g, '')}` : `DNS:${host}`))
  const serving = serverHosts.length > 0
    ? await reuse(paths.servingCert, paths.servingKey, names) ?? await issueCertificate(ca, {commonName: 'imgsec-webhook', usage: 'server', hosts: serverHosts})
    : undefined
  return {ca, client, serving}
}

function bundlePath(): string {
  // From dist/lib/whitelist/whitelist.js it is dist/imgsec-webhook.mjs; in the release bundle it sits beside it.
  const here = path.dirname(fileURLToPath(import.meta.url))
  const candidates = [path.resolve(here, '..', '..', 'imgsec-webhook.mjs'), path.join(here, 'imgsec-webhook.mjs')]
  const found = candidates.find((file) => existsSync(file))
  if (!found) throw new UserError(`the backend bundle imgsec-webhook.mjs is missing (looked in ${candidates.join(', ')}); reinstall kubectl-imgsec`)
  return found
}

/** GET/POST to the backend with the files the API server will use; status, body and the policy digest it reports. */
async function backendRequest(url: string, tls: TlsClient, body?: string): Promise<{status: number; body: string; policyDigest?: string}> {
  const answer = await httpsRequest(url, {tls, body})
  const digest = answer.headers[POLICY_DIGEST_HEADER]
  return {status: answer.status, body: answer.body, policyDigest: typeof digest === 'string' ? digest : undefined}
}

/**
 * Wait for /healthz, then send a test ImageReview through the exact URL the API server will use.
 * With `policyDigest` (the sha256 of the policy file just written), our backend must also report
 * that it decides by that file: a re-run with a new allowlist is not checked against the old one.
 * A backend that reports no digest (an external one) is not waited for.
 */
export async function checkBackend(webhookUrl: string, tls: {ca: string; cert: string; key: string}, timeoutMs: number, policyDigest?: string): Promise<{healthy: boolean; answering: boolean; detail: string}> {
  const health = new URL('/healthz', webhookUrl).href
  let last = 'no answer'
  const healthy = await pollUntil(async () => {
    try {
      const answer = await backendRequest(health, tls)
      if (answer.status === 200 && (!policyDigest || !answer.policyDigest || answer.policyDigest === policyDigest)) return true
      last = answer.status === 200 ? 'the backend still decides by the previous policy file' : `HTTP ${answer.status}`
    } catch (error) {
      last = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    }
    return undefined
  }, {timeoutMs, intervalMs: 250})
  if (!healthy) return {healthy: false, answering: false, detail: `${health} did not answer within ${Math.round(timeoutMs / 1000)}s (last: ${last})`}
  const review = JSON.stringify({apiVersion: 'imagepolicy.k8s.io/v1alpha1', kind: 'ImageReview', spec: {containers: [{image: 'nginx:latest'}], namespace: 'default'}})
  try {
    const answer = await backendRequest(webhookUrl, tls, review)
    const status = (JSON.parse(answer.body) as {status?: {allowed?: boolean; reason?: string}}).status
    if (answer.status !== 200 || typeof status?.allowed !== 'boolean') return {healthy: true, answering: false, detail: `${webhookUrl} answered HTTP ${answer.status} without an ImageReview status`}
    return {healthy: true, answering: true, detail: `${webhookUrl} answered a test ImageReview for nginx:latest: ${status.allowed ? 'allowed' : `denied (${status.reason})`}`}
  } catch (error) {
    return {healthy: true, answering: false, detail: `${webhookUrl}: ${(error as Error).message}`}
  }
}

export function readState(configDir: string): WhitelistState | undefined {
  const text = readIfExists(whitelistPaths(configDir).state)
  if (text === undefined) return undefined
  try {
    return JSON.parse(text) as WhitelistState
  } catch {
    throw new UserError(`${whitelistPaths(configDir).state} is not valid JSON; restore the manifest with "kubectl imgsec patch-apiserver --restore" and remove the file`)
  }
}

/**
 * `whitelist enable`: files, backend, then the API server — in that order, so the API server
 * only ever points at a backend that answers.
 */
export async function enableWhitelist(options: WhitelistEnableOptions): Promise<WhitelistResult> {
  const paths = whitelistPaths(options.configDir)
  const manifest = path.join(path.resolve(options.manifestsDir), 'kube-apiserver.yaml')
  const changes: string[] = []
  const warnings: string[] = []
  if (!existsSync(manifest)) {
    throw new UserError(`${manifest} does not exist: run "whitelist enable" on a control-plane node (kubeadm keeps the API server manifest there), or pass --manifests-dir`)
  }
  locateApiserver(readFileSync(manifest, 'utf8'), manifest)
  try {
    accessSync(manifest, constants.W_OK)
    accessSync(path.dirname(manifest), constants.W_OK)
  } catch {
    throw new UserError(`cannot write ${manifest}: run "whitelist enable" as root on the control-plane node (sudo); nothing was changed`)
  }
  const {policy, problems} = whitelistPolicy(options)
  if (problems.length > 0 && !options.force) throw new UserError(`refusing a policy that would block the control plane:\n  ${problems.join('\n  ')}\npass --force to enable it anyway`)
  warnings.push(...problems.map((problem) => `forced despite: ${problem}`))
  if (options.placement === 'external') checkWebhookCa(options.webhookCa!)
  if (options.placement !== 'external') {
    const reference = parseImageReference(options.backendImage)
    if (!reference.digest) throw new UserError(`--backend-image ${options.backendImage} must be pinned by digest (…@sha256:…): the control plane must not run a moving tag`)
  }

  let client: KubeClient | undefined
  let webhookUrl = options.webhookUrl!
  let servingHosts: string[] = []
  if (options.placement === 'static') {
    webhookUrl = `https://127.0.0.1:${options.port}/image_policy`
    servingHosts = ['127.0.0.1']
  } else if (options.placement === 'deployment') {
    client = await createKubeClient(options.kube ?? {})
    // Preflight in the cluster, before anything is written: permissions, then the server version.
    const ns = options.namespace!
    const needed = [
      {verb: 'create', resource: 'namespaces'},
      ...['secrets', 'configmaps', 'services'].flatMap((resource) => ['get', 'create', 'update'].map((verb) => ({verb, resource, namespace: ns}))),
      ...['get', 'create', 'update'].map((verb) => ({verb, resource: 'deployments', group: 'apps', namespace: ns})),
      ...['get', 'create', 'update'].map((verb) => ({verb, resource: 'poddisruptionbudgets', group: 'policy', namespace: ns})),
      ...(options.nodeAddress ? [] : [{verb: 'list', resource: 'nodes'}]),
    ]
    const missing = await missingPermissions(client, needed)
    if (missing && missing.length > 0) {
      throw new UserError(`RBAC does not allow you to ${missing.join(', ')}; the Deployment placement needs these (nothing was changed). Ask for them, use --as, or use the static placement`)
    }
    const versionProblem = versionWarning((await serverVersion(client)).gitVersion)
    if (versionProblem) warnings.push(versionProblem)
    const address = options.nodeAddress ?? await nodeInternalIP(client)
    webhookUrl = `https://${address.includes(':') ? `[${address}]` : address}:${options.nodePort}/image_policy`
    servingHosts = [address, `${BACKEND_NAME}.${options.namespace}.svc`, `${BACKEND_NAME}.${options.namespace}.svc.cluster.local`, '127.0.0.1']
    warnings.push(options.settings.defaultAllow
      ? `the backend runs in the cluster (namespace ${options.namespace}): while all its pods are gone, every pod is admitted unchecked (defaultAllow: true); the static placement (the default) has no such gap`
      : `the backend runs in the cluster (namespace ${options.namespace}): if all its pods are gone, every pod creation and update in every namespace is refused (defaultAllow: false), its own replacement pods included, so it cannot come back by itself; recovery is "whitelist disable" or "patch-apiserver --restore" on each control-plane node. The static placement (the default) has no such risk`)
  }
  // Impact before change, after the preflight and before anything is written.
  const impact = await checkImpact(policy, options.kube ?? {}, {force: options.force})
  const previous = readState(options.configDir)
  // Everything this run writes or creates is journaled: if a later step fails (the backend does
  // not answer, the manifest preflight refuses), it is all put back and nothing is half-made.
  const journal = new UndoJournal()
  let patched = false
  try {
    ensureDir(paths.configDir, undefined, journal)
    ensureDir(paths.pkiDir, undefined, journal)
    const pki = await loadOrCreatePki(paths, servingHosts, changes)
    writeIfChanged(paths.caCert, pki.ca.certPem, 0o644, changes, undefined, journal)
    writeIfChanged(paths.caKey, pki.ca.keyPem, 0o600, changes, undefined, journal)
    writeIfChanged(paths.clientCert, pki.client.certPem, 0o644, changes, undefined, journal)
    writeIfChanged(paths.clientKey, pki.client.keyPem, 0o600, changes, undefined, journal)
    let staticPod: string | undefined
    const backups: BackupRecord[] = []
    if (options.placement === 'static') {
      ensureDir(paths.backendDir, BACKEND_UID, journal)
      writeIfChanged(paths.servingCert, pki.serving!.certPem, 0o644, changes, BACKEND_UID, journal)
      writeIfChanged(paths.servingKey, pki.serving!.keyPem, 0o600, changes, BACKEND_UID, journal)
      writeIfChanged(paths.clientCa, pki.ca.certPem, 0o644, changes, BACKEND_UID, journal)
      writeIfChanged(paths.policy, renderPolicyFile(policy), 0o644, changes, BACKEND_UID, journal)
      writeIfChanged(paths.bundle, readFileSync(bundlePath(), 'utf8'), 0o644, changes, BACKEND_UID, journal)
      staticPod = path.join(path.resolve(options.manifestsDir), STATIC_POD_FILE)
      const podText = renderStaticPod({image: options.backendImage, paths, port: options.port})
      const current = readIfExists(staticPod)
      if (current !== podText) {
        if (current !== undefined) backups.push(backupFile(staticPod, options.backupDir, options.command))
        journal.rememberFile(staticPod)
        writeFileAtomic(staticPod, podText, {mode: 0o600})
        changes.push(`${current === undefined ? 'wrote' : 'updated'} static pod ${staticPod}`)
      }
    }
    let objects: Array<Record<string, any>> | undefined
    if (options.placement === 'deployment') {
      objects = renderDeploymentBackend({namespace: options.namespace!, nodePort: options.nodePort!, image: options.backendImage, replicas: 2, policyText: renderPolicyFile(policy), bundleText: readFileSync(bundlePath(), 'utf8'), tls: {caPem: pki.ca.certPem, certPem: pki.serving!.certPem, keyPem: pki.serving!.keyPem}, backend: options.backend, allowedRegistries: policy.allowedRegistries})
      const applied = await applyObjects(client!, objects, 'none')
      for (const result of applied) {
        if (result.action !== 'unchanged') changes.push(`${objectName(result.object)} ${result.action}`)
        if (result.action === 'created') journal.add(`delete ${objectName(result.object)}`, () => deleteObjects(client!, [result.object]))
      }
      // A namespace that was there before is the user's: disable must not delete it.
      const namespaceCreated = applied[0].action === 'created' || (previous?.objects ?? []).some((o) => o.kind === 'Namespace')
      if (!namespaceCreated) objects = objects.slice(1)
      if (!await waitForDeployment(client!, options.namespace!, options.backendTimeoutMs)) {
        throw new UserError(`deployment ${BACKEND_NAME} in namespace ${options.namespace} has no ready replica after ${Math.round(options.backendTimeoutMs / 1000)}s, so the API server was NOT changed; see kubectl -n ${options.namespace} describe deployment ${BACKEND_NAME}`)
      }
    }
    const caForKubeconfig = options.placement === 'external' ? path.resolve(options.webhookCa!) : paths.caCert
    writeIfChanged(paths.webhookKubeconfig, renderWebhookKubeconfig({server: webhookUrl, caFile: caForKubeconfig, clientCertificate: paths.clientCert, clientKey: paths.clientKey}), 0o600, changes, undefined, journal)
    writeIfChanged(paths.admissionConfig, renderAdmissionConfiguration({kubeConfigFile: paths.webhookKubeconfig, ...options.settings}), 0o600, changes, undefined, journal)

    const backend = await checkBackend(webhookUrl, {ca: readFileSync(caForKubeconfig, 'utf8'), cert: pki.client.certPem, key: pki.client.keyPem}, options.backendTimeoutMs, options.placement === 'external' ? undefined : sha256(renderPolicyFile(policy)))
    if (!backend.answering) {
      throw new UserError(`the image policy backend is not answering, so the API server was NOT changed: ${backend.detail}${options.placement === 'static' ? `; check that the kubelet runs ${staticPod} (crictl ps --name webhook, journalctl -u kubelet)` : ''}`)
    }
    changes.push(`backend check: ${backend.detail}`)

    const flagsBefore = readFlags(readFileSync(manifest, 'utf8'), manifest)
    const plan = await planApiserverPatch({
      manifest,
      backupDir: options.backupDir,
      enablePlugins: [PLUGIN],
      disablePlugins: [],
      admissionConfig: paths.admissionConfig,
      setFlags: {},
      removeFlags: [],
      hostPaths: [paths.configDir],
      force: options.force,
    })
    warnings.push(...plan.warnings)
    if (options.persistKubeadmConfig) {
      // Recorded before the manifest is written, as patch-apiserver does: "kubeadm upgrade" then keeps the plugin.
      const recorded = await persistToKubeadmConfig(client ?? await createKubeClient(options.kube ?? {}), kubeadmChangeOf(plan))
      changes.push(...recorded.map((line) => `kubeadm-config: ${line}`))
    }
    if (planChangesSomething(plan)) {
      backups.push(...applyApiserverPatch(plan, options.backupDir, options.command))
      changes.push(...plan.changes.map((change) => `kube-apiserver: ${change}`))
    }
    // From here the API server's manifest names these files: they must stay.
    patched = true
    return {...recordState({options, paths, manifest, staticPod, webhookUrl, previous, flagsBefore, plan, objects, backups, changes, warnings}), impact}
  } catch (error) {
    if (patched) throw error
    const problems = await journal.rollback()
    const undone = problems.length === 0 ? 'everything this run had written or created was removed again' : `undoing what this run had written left: ${problems.join('; ')}`
    if (error instanceof UserError) throw new UserError(`${error.message} (${undone})`)
    throw error
  }
}

function recordState({options, paths, manifest, staticPod, webhookUrl, previous, flagsBefore, plan, objects, backups, changes, warnings}: {
  options: WhitelistEnableOptions; paths: WhitelistPaths; manifest: string; staticPod?: string; webhookUrl: string; previous?: WhitelistState
  flagsBefore: Map<string, string>; plan: Awaited<ReturnType<typeof planApiserverPatch>>; objects?: Array<Record<string, any>>; backups: BackupRecord[]; changes: string[]; warnings: string[]
}): WhitelistResult {
  const state: WhitelistState = {
    version: 1,
    placement: options.placement,
    port: options.port,
    manifest,
    staticPod,
    webhookUrl,
    // A second enable adds nothing: keep what the first one recorded.
    enabledPlugin: previous?.enabledPlugin ?? !splitList(flagsBefore.get('enable-admission-plugins')).includes(PLUGIN),
    setConfigFlag: previous?.setConfigFlag ?? !flagsBefore.has('admission-control-config-file'),
    addedVolumes: [...new Set([...(previous?.addedVolumes ?? []), ...plan.addedVolumes])],
    mergedConfig: previous?.mergedConfig,
    ...(options.persistKubeadmConfig || previous?.kubeadmConfig ? {kubeadmConfig: true} : {}),
    ...(objects ? {objects: objects.map((o) => ({apiVersion: o.apiVersion, kind: o.kind, metadata: {name: o.metadata.name, ...(o.metadata.namespace ? {namespace: o.metadata.namespace} : {})}}))} : {}),
  }
  if (plan.admissionConfig && plan.admissionConfig.before !== plan.admissionConfig.after) {
    const backup = backups.find((record) => record.file === path.resolve(plan.admissionConfig!.file))
    state.mergedConfig = {file: plan.admissionConfig.file, sha256: sha256(plan.admissionConfig.after), backup: backup!.backup}
  }
  writeIfChanged(paths.state, JSON.stringify(state, null, 2) + '\n', 0o600, [])
  return {changes, warnings, backups}
}

/** `whitelist disable`: undo exactly what enable recorded; the backups stay. */
export async function disableWhitelist(options: {configDir: string; backupDir: string; keepBackend: boolean; force: boolean; command: string; kube?: KubeTargetOptions}): Promise<WhitelistResult> {
  const paths = whitelistPaths(options.configDir)
  const state = readState(options.configDir)
  if (!state) throw new UserError(`the registry whitelist was not enabled by kubectl-imgsec with --config-dir ${paths.configDir} (no ${paths.state})`)
  const changes: string[] = []
  const backups: BackupRecord[] = []
  const plan = await planApiserverPatch({
    manifest: state.manifest,
    backupDir: options.backupDir,
    enablePlugins: [],
    disablePlugins: state.enabledPlugin ? [PLUGIN] : [],
    setFlags: {},
    removeFlags: state.setConfigFlag ? ['admission-control-config-file'] : [],
    removeVolumes: state.addedVolumes,
    mountReferencedFiles: false,
    force: options.force,
  })
  if (state.kubeadmConfig) {
    // Else the next "kubeadm upgrade" would put the plugin back, naming files that are gone.
    const recorded = await persistToKubeadmConfig(await createKubeClient(options.kube ?? {}), kubeadmChangeOf(plan))
    changes.push(...recorded.map((line) => `kubeadm-config: ${line}`))
  }
  if (planChangesSomething(plan)) {
    backups.push(...applyApiserverPatch(plan, options.backupDir, options.command))
    changes.push(...plan.changes.map((change) => `kube-apiserver: ${change}`))
  }
  if (state.mergedConfig) {
    const current = readIfExists(state.mergedConfig.file)
    // Untouched since enable: the backup taken before the merge is the exact original.
    if (current !== undefined && sha256(current) === state.mergedConfig.sha256 && existsSync(state.mergedConfig.backup)) {
      backups.push(backupFile(state.mergedConfig.file, options.backupDir, options.command))
      writeFileAtomic(state.mergedConfig.file, readFileSync(state.mergedConfig.backup))
      changes.push(`removed the ImagePolicyWebhook entry from ${state.mergedConfig.file}`)
    } else {
      changes.push(`left ${state.mergedConfig.file} as it is (changed since enable): remove its ImagePolicyWebhook entry by hand`)
    }
  }
  if (state.staticPod && !options.keepBackend && existsSync(state.staticPod)) {
    backups.push(backupFile(state.staticPod, options.backupDir, options.command))
    rmSync(state.staticPod)
    changes.push(`removed static pod ${state.staticPod} (the kubelet stops the backend)`)
  }
  if (state.objects && !options.keepBackend) {
    const client = await createKubeClient(options.kube ?? {})
    // The namespace goes last, and only if we created it (it is in the list then).
    for (const object of await deleteObjects(client, [...state.objects].reverse())) changes.push(`deleted ${objectName(object)}`)
  }
  rmSync(paths.state)
  return {changes, warnings: plan.warnings, backups}
}

/** What happens to a pod created now, in one line: the first thing `whitelist status` says. */
export interface PodCreationVerdict {
  state: 'checked' | 'blocked' | 'unchecked' | 'not-gated'
  detail: string
}

export interface WhitelistStatus {
  podCreation: PodCreationVerdict
  enabled: boolean
  pluginEnabled: boolean
  admissionConfig?: {file: string; valid: boolean; problem?: string; settings?: Omit<ImagePolicySettings, 'kubeConfigFile'>}
  webhookKubeconfig?: {file: string; valid: boolean; problem?: string; server?: string}
  backend?: {placement: string; url: string; healthy: boolean; answering: boolean; detail: string}
  policy?: {allowedRegistries: string[] | 'any'; exemptNamespaces: string[]; requireDigest: boolean}
  /** The certificates in --config-dir: when one expires, the API server can no longer reach the backend. */
  certificates: Array<{name: string; file: string; notAfter: string; daysLeft: number}>
  warnings: string[]
  backups: Array<{time: string; backup: string}>
}

/** Days before expiry from which status warns. */
export const CERTIFICATE_WARNING_DAYS = 30

/** `whitelist status`: what the manifest, the files and the backend say now. */
export async function whitelistStatus(options: {configDir: string; manifestsDir: string; backupDir: string}): Promise<WhitelistStatus> {
  const paths = whitelistPaths(options.configDir)
  const manifest = path.join(path.resolve(options.manifestsDir), 'kube-apiserver.yaml')
  const text = readIfExists(manifest)
  if (text === undefined) throw new UserError(`${manifest} does not exist: run "whitelist status" on a control-plane node, or pass --manifests-dir`)
  const flags = readFlags(text, manifest)
  const pluginEnabled = splitList(flags.get('enable-admission-plugins')).includes(PLUGIN)
  const status: WhitelistStatus = {podCreation: {state: 'not-gated', detail: ''}, enabled: false, pluginEnabled, certificates: [], warnings: [], backups: backupsOf(manifest, options.backupDir).map((r) => ({time: r.time, backup: r.backup}))}
  const configFile = flags.get('admission-control-config-file')
  let kubeconfigFile: string | undefined
  if (configFile) {
    try {
      const check = checkAdmissionConfiguration(configFile, {requireImagePolicy: true})
      const {kubeConfigFile, ...settings} = check.imagePolicy!
      kubeconfigFile = kubeConfigFile
      status.admissionConfig = {file: configFile, valid: true, settings}
    } catch (error) {
      status.admissionConfig = {file: configFile, valid: false, problem: (error as Error).message}
    }
  }
  if (kubeconfigFile) {
    try {
      const webhook = checkWebhookKubeconfig(kubeconfigFile)
      status.webhookKubeconfig = {file: kubeconfigFile, valid: true, server: webhook.server}
      const state = readState(options.configDir)
      const tls = {ca: readFileSync(webhook.caFile!, 'utf8'), cert: readFileSync(webhook.clientCertificate!, 'utf8'), key: readFileSync(webhook.clientKey!, 'utf8')}
      const backend = await checkBackend(webhook.server, tls, 3000)
      status.backend = {placement: state?.placement ?? 'unknown (not enabled by kubectl-imgsec)', url: webhook.server, ...backend}
    } catch (error) {
      status.webhookKubeconfig = {file: kubeconfigFile, valid: false, problem: (error as Error).message}
    }
  }
  const policyText = readIfExists(paths.policy)
  if (policyText !== undefined) {
    try {
      const policy = resolvePolicy({policyFile: paths.policy})
      status.policy = {allowedRegistries: policy.allowedRegistries ?? 'any', exemptNamespaces: policy.exemptNamespaces, requireDigest: policy.requireDigest}
    } catch {}
  }
  for (const [name, file] of [['CA', paths.caCert], ['serving', paths.servingCert], ['API server client', paths.clientCert]] as const) {
    const pem = readIfExists(file)
    if (pem === undefined) continue
    try {
      // eslint-disable-next-line no-await-in-loop -- three small files
      const {notAfter} = await describeCertificate(pem)
      const daysLeft = Math.floor((notAfter.getTime() - Date.now()) / 86_400_000)
      status.certificates.push({name, file, notAfter: notAfter.toISOString(), daysLeft})
      if (daysLeft < CERTIFICATE_WARNING_DAYS) {
        status.warnings.push(`the ${name} certificate ${file} ${daysLeft < 0 ? 'has expired' : `expires in ${daysLeft} days`} (${notAfter.toISOString()}): then the API server can no longer reach the backend, and with defaultAllow false every pod is refused; renew it before then (kubectl imgsec whitelist rotate-certs)`)
      }
    } catch {
      status.warnings.push(`${file} is not a readable certificate`)
    }
  }
  status.enabled = pluginEnabled && Boolean(status.admissionConfig?.valid) && Boolean(status.webhookKubeconfig?.valid)
  status.podCreation = podCreationVerdict(status)
  return status
}

/**
 * The plugin exempts nothing and reviews every pod CREATE and UPDATE: when the backend does not
 * answer, defaultAllow alone decides for every namespace (asserted against the real kube-apiserver
 * in test/k8s/image-policy-webhook.test.ts).
 */
export function podCreationVerdict(status: Pick<WhitelistStatus, 'pluginEnabled' | 'admissionConfig' | 'webhookKubeconfig' | 'backend'>): PodCreationVerdict {
  if (!status.pluginEnabled) return {state: 'not-gated', detail: 'not gated: ImagePolicyWebhook is not enabled in the kube-apiserver manifest'}
  if (!status.admissionConfig?.valid || !status.webhookKubeconfig?.valid) {
    const problem = !status.admissionConfig ? 'the manifest names no --admission-control-config-file' : status.admissionConfig.problem ?? status.webhookKubeconfig?.problem ?? 'no webhook kubeconfig'
    return {state: 'blocked', detail: `BLOCKED: kube-apiserver cannot start the ImagePolicyWebhook plugin with these files (${problem}); fix them or run "kubectl imgsec patch-apiserver --restore"`}
  }
  if (status.backend?.answering) return {state: 'checked', detail: `checked: the backend at ${status.backend.url} answers; images outside the allowlist are refused`}
  const url = status.backend?.url ?? status.webhookKubeconfig.server ?? 'the webhook URL'
  if (status.admissionConfig.settings?.defaultAllow) {
    return {state: 'unchecked', detail: `UNCHECKED: the backend at ${url} does not answer and defaultAllow is true: every pod is admitted without an image check`}
  }
  return {state: 'blocked', detail: `BLOCKED: the backend at ${url} does not answer and defaultAllow is false: every pod creation and update in every namespace is refused, kube-system included; bring the backend back or run "kubectl imgsec whitelist disable"`}
}

/** --webhook-ca must be a readable PEM certificate: the API server trusts the backend by it. */
function checkWebhookCa(file: string): void {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UserError(`--webhook-ca ${file}: ${describeSystemError(error)}`)
  }
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)
  try {
    if (!pem) throw new Error('no PEM certificate')
    new X509Certificate(pem[0])
  } catch {
    throw new UserError(`--webhook-ca ${file}: not a PEM certificate (expected the CA certificate of the backend's serving certificate)`)
  }
}

/** The allowlist after adding or removing one registry pattern (both modes); refuses to empty it. */
export function editedAllowlist(before: string[], edit: {add?: string; remove?: string}): {after: string[]; changed: boolean} {
  const registry = (edit.add ?? edit.remove)!
  const problem = registryPatternProblem(registry)
  if (problem) throw new UserError(`"${registry}": ${problem}`)
  const after = edit.add ? (before.includes(registry) ? before : [...before, registry]) : before.filter((r) => r !== registry)
  if (after.length === 0) throw new UserError('refusing to remove the last allowed registry: every pod outside the exempt namespaces would be refused; use "whitelist disable" instead')
  return {after, changed: after.length !== before.length}
}

/**
 * `whitelist add-registry` / `remove-registry`: change the allowlist in the backend's policy file
 * (atomically; the backend reloads it on change) and confirm that the backend now decides by it.
 */
export async function editAllowedRegistries(options: {configDir: string; add?: string; remove?: string; timeoutMs: number; beforeWrite?: (policy: ImagePolicy) => Promise<void>}): Promise<{changed: boolean; allowedRegistries: string[]; confirmed: boolean | undefined}> {
  const paths = whitelistPaths(options.configDir)
  const state = readState(options.configDir)
  if (!state || state.placement !== 'static') throw new UserError(`no static-pod backend enabled with --config-dir ${paths.configDir}; edit your own backend's policy instead`)
  const policy = resolvePolicy({policyFile: paths.policy})
  if (!policy.allowedRegistries) throw new UserError(`${paths.policy} has no allowedRegistries (any registry is allowed); set a list with "whitelist enable --allowed-registries …"`)
  const registry = (options.add ?? options.remove)!
  const before = policy.allowedRegistries
  const {after, changed} = editedAllowlist(before, options)
  if (!changed) return {changed: false, allowedRegistries: before, confirmed: undefined}
  await options.beforeWrite?.({...policy, allowedRegistries: after})
  writeIfChanged(paths.policy, renderPolicyFile({...policy, allowedRegistries: after}), 0o644, [], BACKEND_UID)
  // Ask the backend until its decision for an image of that registry follows the new list.
  const probe = `${registry.replace(/^\*\./, 'probe.')}${registry.includes('/') ? '' : '/imgsec'}/probe:1.0`
  const tls = {ca: readFileSync(paths.caCert, 'utf8'), cert: readFileSync(paths.clientCert, 'utf8'), key: readFileSync(paths.clientKey, 'utf8')}
  const review = JSON.stringify({apiVersion: 'imagepolicy.k8s.io/v1alpha1', kind: 'ImageReview', spec: {containers: [{image: probe}], namespace: 'default'}})
  const confirmed = await pollUntil(async () => {
    try {
      const answer = await backendRequest(state.webhookUrl, tls, review)
      if ((JSON.parse(answer.body) as {status?: {allowed?: boolean}}).status?.allowed === Boolean(options.add)) return true
    } catch {}
    return undefined
  }, {timeoutMs: options.timeoutMs, intervalMs: 200}) ?? false
  return {changed: true, allowedRegistries: after, confirmed}
}

/**
 * `whitelist enable --dry-run=client`: every file and object enable would write, nothing written.
 * Keys and certificates are generated at apply time and shown as placeholders, never printed.
 */
export function renderWhitelistDryRun(options: WhitelistEnableOptions): Array<{path: string; content: string}> {
  const paths = whitelistPaths(options.configDir)
  const manifest = path.join(path.resolve(options.manifestsDir), 'kube-apiserver.yaml')
  if (!existsSync(manifest)) throw new UserError(`${manifest} does not exist: run on a control-plane node, or pass --manifests-dir`)
  const {policy, problems} = whitelistPolicy(options)
  if (problems.length > 0 && !options.force) throw new UserError(`refusing a policy that would block the control plane:\n  ${problems.join('\n  ')}\npass --force to enable it anyway`)
  const webhookUrl = options.placement === 'static' ? `https://127.0.0.1:${options.port}/image_policy`
    : options.placement === 'deployment' ? `https://${options.nodeAddress ?? 'NODE_INTERNAL_IP'}:${options.nodePort}/image_policy` : options.webhookUrl!
  const files: Array<{path: string; content: string}> = [
    {path: paths.policy, content: renderPolicyFile(policy)},
    {path: paths.webhookKubeconfig, content: renderWebhookKubeconfig({server: webhookUrl, caFile: options.placement === 'external' ? path.resolve(options.webhookCa!) : paths.caCert, clientCertificate: paths.clientCert, clientKey: paths.clientKey})},
    {path: paths.admissionConfig, content: renderAdmissionConfiguration({kubeConfigFile: paths.webhookKubeconfig, ...options.settings})},
  ]
  if (options.placement === 'static') {
    files.push({path: path.join(path.resolve(options.manifestsDir), STATIC_POD_FILE), content: renderStaticPod({image: options.backendImage, paths, port: options.port})})
  }
  if (options.placement === 'deployment') {
    const placeholder = '<generated at apply time>'
    const objects = renderDeploymentBackend({namespace: options.namespace!, nodePort: options.nodePort!, image: options.backendImage, replicas: 2, policyText: renderPolicyFile(policy), bundleText: '<the bundled backend, dist/imgsec-webhook.mjs>', tls: {caPem: placeholder, certPem: placeholder, keyPem: placeholder}, backend: options.backend, allowedRegistries: policy.allowedRegistries})
    for (const object of objects) {
      if (object.kind === 'Secret') object.data = Object.fromEntries(Object.keys(object.data).map((key) => [key, placeholder]))
      files.push({path: `${object.kind}/${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`, content: stringify(object, {indentSeq: false})})
    }
  }
  const edit = editApiserverManifest(readFileSync(manifest, 'utf8'), {enablePlugins: [PLUGIN], setFlags: {'admission-control-config-file': paths.admissionConfig}, hostPaths: [paths.configDir]}, manifest)
  files.push({path: `${manifest} (patched)`, content: edit.text})
  return files
}

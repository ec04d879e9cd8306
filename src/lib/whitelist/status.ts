// `whitelist status`: what the manifest, the files in --config-dir and the backend say now, and in
// one line what happens to a pod created now.
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {checkAdmissionConfiguration, type ImagePolicySettings} from '../controlplane/admission-config.js'
import {readFlags} from '../controlplane/apiserver-manifest.js'
import {backupsOf} from '../controlplane/patch-apiserver.js'
import {checkWebhookKubeconfig} from '../controlplane/webhook-kubeconfig.js'
import {UserError} from '../errors.js'
import {resolvePolicy} from '../policy/policy-file.js'
import {checkBackend} from './backend-probe.js'
import {describeCertificate} from './certificates.js'
import {whitelistPaths} from './files.js'
import {readIfExists} from './node-files.js'
import {IMAGE_POLICY_PLUGIN} from './plan.js'
import {readState} from './state.js'
import {splitCommaList} from '../comma-list.js'
import {describeFailure} from '../describe-error.js'

/** A file the webhook kubeconfig must name (the API server reads it per connection). */
function readNamedFile(file: string | undefined, field: string): string {
  if (!file) throw new Error(`the webhook kubeconfig names no ${field} file`)
  return readFileSync(file, 'utf8')
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
  admissionConfig?: {
    file: string
    valid: boolean
    problem?: string
    settings?: Omit<ImagePolicySettings, 'kubeConfigFile'>
  }
  webhookKubeconfig?: {file: string; valid: boolean; problem?: string; server?: string}
  backend?: {placement: string; url: string; healthy: boolean; answering: boolean; detail: string}
  policy?: {allowedRegistries: string[] | 'any'; exemptNamespaces: string[]; requireDigest: boolean}
  /** Where the backend reads its registry credentials (--docker-config); their content is never read here. */
  registryCredentials?: string
  /** The certificates in --config-dir: when one expires, the API server can no longer reach the backend. */
  certificates: Array<{name: string; file: string; notAfter: string; daysLeft: number}>
  warnings: string[]
  backups: Array<{time: string; backup: string}>
}

/** Days before expiry from which status warns. */
export const CERTIFICATE_WARNING_DAYS = 30

/** `whitelist status`: what the manifest, the files and the backend say now. */
export async function whitelistStatus(options: {
  configDir: string
  manifestsDir: string
  backupDir: string
}): Promise<WhitelistStatus> {
  const paths = whitelistPaths(options.configDir)
  const manifest = path.join(path.resolve(options.manifestsDir), 'kube-apiserver.yaml')
  const text = readIfExists(manifest)
  if (text === undefined)
    throw new UserError(
      `${manifest} does not exist: run "whitelist status" on a control-plane node, or pass --manifests-dir`,
    )
  const flags = readFlags(text, manifest)
  const pluginEnabled = splitCommaList(flags.get('enable-admission-plugins')).includes(IMAGE_POLICY_PLUGIN)
  const status: WhitelistStatus = {
    podCreation: {state: 'not-gated', detail: ''},
    enabled: false,
    pluginEnabled,
    certificates: [],
    warnings: [],
    backups: backupsOf(manifest, options.backupDir).map((r) => ({time: r.time, backup: r.backup})),
  }
  const configFile = flags.get('admission-control-config-file')
  let kubeconfigFile: string | undefined
  if (configFile) {
    try {
      const check = checkAdmissionConfiguration(configFile, {requireImagePolicy: true})
      if (!check.imagePolicy) throw new Error(`${configFile} has no ImagePolicyWebhook configuration`)
      const {kubeConfigFile, ...settings} = check.imagePolicy
      kubeconfigFile = kubeConfigFile
      status.admissionConfig = {file: configFile, valid: true, settings}
    } catch (error) {
      status.admissionConfig = {file: configFile, valid: false, problem: describeFailure(error)}
    }
  }
  if (kubeconfigFile) {
    try {
      const webhook = checkWebhookKubeconfig(kubeconfigFile)
      status.webhookKubeconfig = {file: kubeconfigFile, valid: true, server: webhook.server}
      const state = readState(options.configDir)
      const tls = {
        ca: readNamedFile(webhook.caFile, 'certificate-authority'),
        cert: readNamedFile(webhook.clientCertificate, 'client-certificate'),
        key: readNamedFile(webhook.clientKey, 'client-key'),
      }
      const backend = await checkBackend(webhook.server, tls, 3000)
      status.backend = {
        placement: state?.placement ?? 'unknown (not enabled by kubectl-imgsec)',
        url: webhook.server,
        ...backend,
      }
    } catch (error) {
      status.webhookKubeconfig = {file: kubeconfigFile, valid: false, problem: describeFailure(error)}
    }
  }
  const state = readState(options.configDir)
  if (state?.registryCredentials) {
    status.registryCredentials = state.registryCredentials
    if (state.placement === 'static' && !existsSync(state.registryCredentials))
      status.warnings.push(
        `${state.registryCredentials} is missing: the backend's static pod names it (--docker-config), so the backend exits at its next start; run "whitelist enable" again with --docker-config FILE or --docker-config-secret NAMESPACE/NAME`,
      )
  }
  const policyText = readIfExists(paths.policy)
  if (policyText !== undefined) {
    try {
      const policy = resolvePolicy({policyFile: paths.policy})
      status.policy = {
        allowedRegistries: policy.allowedRegistries ?? 'any',
        exemptNamespaces: policy.exemptNamespaces,
        requireDigest: policy.requireDigest,
      }
    } catch {}
  }
  for (const [name, file] of [
    ['CA', paths.caCert],
    ['serving', paths.servingCert],
    ['API server client', paths.clientCert],
  ] as const) {
    const pem = readIfExists(file)
    if (pem === undefined) continue
    try {
      // eslint-disable-next-line no-await-in-loop -- three small files
      const {notAfter} = await describeCertificate(pem)
      const daysLeft = Math.floor((notAfter.getTime() - Date.now()) / 86_400_000)
      status.certificates.push({name, file, notAfter: notAfter.toISOString(), daysLeft})
      if (daysLeft < CERTIFICATE_WARNING_DAYS) {
        status.warnings.push(
          `the ${name} certificate ${file} ${daysLeft < 0 ? 'has expired' : `expires in ${daysLeft} days`} (${notAfter.toISOString()}): then the API server can no longer reach the backend, and with defaultAllow false every pod is refused; renew it before then (kubectl imgsec whitelist rotate-certs)`,
        )
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
export function podCreationVerdict(
  status: Pick<WhitelistStatus, 'pluginEnabled' | 'admissionConfig' | 'webhookKubeconfig' | 'backend'>,
): PodCreationVerdict {
  if (!status.pluginEnabled)
    return {state: 'not-gated', detail: 'not gated: ImagePolicyWebhook is not enabled in the kube-apiserver manifest'}
  if (!status.admissionConfig?.valid || !status.webhookKubeconfig?.valid) {
    const problem = !status.admissionConfig
      ? 'the manifest names no --admission-control-config-file'
      : (status.admissionConfig.problem ?? status.webhookKubeconfig?.problem ?? 'no webhook kubeconfig')
    return {
      state: 'blocked',
      detail: `BLOCKED: kube-apiserver cannot start the ImagePolicyWebhook plugin with these files (${problem}); fix them or run "kubectl imgsec patch-apiserver --restore"`,
    }
  }
  if (status.backend?.answering)
    return {
      state: 'checked',
      detail: `checked: the backend at ${status.backend.url} answers; images outside the allowlist are refused`,
    }
  const url = status.backend?.url ?? status.webhookKubeconfig.server ?? 'the webhook URL'
  if (status.admissionConfig.settings?.defaultAllow) {
    return {
      state: 'unchecked',
      detail: `UNCHECKED: the backend at ${url} does not answer and defaultAllow is true: every pod is admitted without an image check`,
    }
  }
  return {
    state: 'blocked',
    detail: `BLOCKED: the backend at ${url} does not answer and defaultAllow is false: every pod creation and update in every namespace is refused, kube-system included; bring the backend back or run "kubectl imgsec whitelist disable"`,
  }
}

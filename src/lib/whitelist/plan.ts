// `whitelist enable` as a plan: the policy, the files, the backend's files or objects and the
// manifest edit, computed once from the options and what the preflight found. `--dry-run=client`
// prints this plan (renderDryRun) and a real run applies it (enable.ts): the two cannot drift.
import path from 'node:path'
import {stringify} from 'yaml'

import {type ImagePolicySettings, renderAdmissionConfiguration} from '../controlplane/admission-config.js'
import {editApiserverManifest} from '../controlplane/apiserver-manifest.js'
import {renderWebhookKubeconfig} from '../controlplane/webhook-kubeconfig.js'
import {UserError} from '../errors.js'
import type {ImagePolicy} from '../policy/policy.js'
import {requireAllowlist, resolvePolicy} from '../policy/policy-file.js'
import {readTrustedKey} from '../signature/trusted-keys.js'
import type {KeyPairPem} from './certificates.js'
import {controlPlaneProblems} from './control-plane-guard.js'
import {renderPolicyFile, type WhitelistPaths} from './files.js'
import {sha256} from './node-files.js'
import type {RegistryCredentialsSource} from './registry-credentials.js'
import type {PlacementName} from './state.js'

export {acceptPolicyProblems} from './control-plane-guard.js'

export const IMAGE_POLICY_PLUGIN = 'ImagePolicyWebhook'

/** What every placement shares. */
export interface EnableCommonOptions {
  configDir: string
  manifestsDir: string
  backupDir: string
  /** The static backend's port on 127.0.0.1; state.json records it for every placement. */
  port: number
  policyFile?: string
  allowedRegistries?: string[]
  /** Enforce a policy that names no registries (only its tag and digest rules). */
  allowAnyRegistry?: boolean
  /** `--require-signature --trusted-key KEY`: images of the allowed registries must be signed by one of these keys. */
  trustedKeys?: string[]
  /** Registry credentials the backend reads signatures with: `--docker-config FILE`, or `--docker-config-secret NAMESPACE/NAME`. */
  dockerConfig?: string
  dockerConfigSecret?: string
  /** Record the flags and volumes in ConfigMap kube-system/kubeadm-config, so that "kubeadm upgrade" keeps them. */
  persistKubeadmConfig?: boolean
  settings: Omit<ImagePolicySettings, 'kubeConfigFile'>
  backendTimeoutMs: number
  force: boolean
  /** --dry-run=client: plan and print, write nothing. */
  dryRun: boolean
  /** --wait: note kube-apiserver's mirror pod before the change, so that its restart can be awaited. */
  wait?: boolean
  command: string
}

export interface StaticPlacementOptions {
  placement: 'static'
  /** Pinned by digest; undefined: the default image, resolved to its current digest. */
  backendImage?: string
}

export interface DeploymentPlacementOptions {
  placement: 'deployment'
  backendImage?: string
  namespace: string
  nodePort: number
  /** The node address the API server dials (default: this node's InternalIP, asked from the cluster). */
  nodeAddress?: string
  /** `bouncer` runs the seeds' kube-image-bouncer instead of our backend. */
  backend: 'imgsec' | 'bouncer'
  /** defaultAllow false, knowing it can lock pod creation out. */
  acceptLockoutRisk: boolean
}

export interface ExternalPlacementOptions {
  placement: 'external'
  webhookUrl: string
  webhookCa: string
}

export type PlacementOptions = StaticPlacementOptions | DeploymentPlacementOptions | ExternalPlacementOptions
/** `whitelist enable` (webhook mode): a union keyed on the placement, so each one has exactly its fields. */
export type WhitelistEnableOptions = EnableCommonOptions & PlacementOptions
/** The options once the default backend image is resolved. */
export type ResolvedEnableOptions = EnableCommonOptions &
  (
    | (StaticPlacementOptions & {backendImage: string})
    | (DeploymentPlacementOptions & {backendImage: string})
    | ExternalPlacementOptions
  )

/** What the API server dials, the names the serving certificate covers, the CA it trusts. */
export interface BackendTarget {
  webhookUrl: string
  servingHosts: string[]
  /** An external backend's CA (--webhook-ca); our own backends use the CA in --config-dir. */
  caFile?: string
}

/** Made when applying, never planned nor printed: keys, certificates, the bundled backend. */
export interface ApplyMaterial {
  ca: KeyPairPem
  serving: KeyPairPem
  bundleText: string
  dockerConfig?: string
}

export type MaterialName = 'ca.crt' | 'serving.crt' | 'serving.key' | 'bundle' | 'docker-config'

/** A file a plan writes: its text, or the name of material made when applying. */
export interface PlannedFile {
  path: string
  content: string | {material: MaterialName}
  mode: number
  owner?: number
}

export interface RenderedFile {
  path: string
  content: string
}

/** A placement's part of the plan. */
export interface BackendPlan {
  /** What --dry-run prints for the backend, in order (keys and certificates as placeholders, never generated). */
  preview: RenderedFile[]
  /** The directory of the backend's files, owned by its user. */
  dir?: {path: string; owner: number}
  files: PlannedFile[]
  /** A static pod for the kubelet (backed up before it is replaced). */
  staticPod?: RenderedFile
  /** Objects to apply, given the material made at apply time. */
  objects?: {namespace: string; render: (material: ApplyMaterial) => Array<Record<string, any>>}
  /** Our backends report the sha256 of the policy file they decide by; an external one is not asked. */
  reportsPolicyDigest: boolean
  /** Added to the error when the backend does not answer. */
  notAnsweringHint: string
  /** What the user must know about this placement and policy (an external backend's part of it). */
  warnings?: string[]
}

export interface WhitelistPlan {
  placement: PlacementName
  paths: WhitelistPaths
  manifest: string
  manifestText: string
  policy: ImagePolicy
  policyFile: RenderedFile
  target: BackendTarget
  /** The CA the webhook kubeconfig names. */
  trustedCa: string
  backend: BackendPlan
  /** Written once the backend runs, checked through them before the manifest is touched. */
  webhookKubeconfig: PlannedFile & {content: string}
  admissionConfig: PlannedFile & {content: string}
  apiserverEdit: {enablePlugins: string[]; admissionConfig: string; hostPaths: string[]}
  policyDigest?: string
  /** Where --docker-config comes from (its text is never in the plan). */
  registryCredentials?: RegistryCredentialsSource
  warnings: string[]
}

/** What a placement adds to the policy check: its own namespace is exempted, its image must run in kube-system. */
export interface PolicyNeeds {
  exemptNamespaces: string[]
  controlPlaneImages: string[]
}

/** The policy to enforce, and what it would refuse in kube-system (a refusal unless forced). */
export function whitelistPolicy(
  options: Pick<EnableCommonOptions, 'policyFile' | 'allowedRegistries' | 'allowAnyRegistry' | 'trustedKeys'>,
  needs: PolicyNeeds,
): {policy: ImagePolicy; problems: string[]} {
  const policy = resolvePolicy({policyFile: options.policyFile, allowedRegistries: options.allowedRegistries})
  requireAllowlist(policy, options.allowAnyRegistry ?? false)
  if (options.trustedKeys) {
    if (!policy.allowedRegistries)
      throw new UserError(
        '--require-signature covers the allowed registries: name them (--allowed-registries or the policy file), or put requireSignature with its own repositories in a --policy file',
      )
    const keys = options.trustedKeys.map((file) => readTrustedKey(file, '--trusted-key'))
    policy.requireSignature = [...(policy.requireSignature ?? []), {repositories: policy.allowedRegistries, keys}]
  }
  // An in-cluster backend must never review its own pods: with defaultAllow false a dead backend would block its replacement.
  for (const namespace of needs.exemptNamespaces)
    if (!policy.exemptNamespaces.includes(namespace)) policy.exemptNamespaces = [...policy.exemptNamespaces, namespace]
  return {policy, problems: controlPlaneProblems(policy, needs.controlPlaneImages)}
}

/** The directories not inside `dir` (those inside are mounted with it). */
function outside(dir: string, dirs: string[]): string[] {
  return dirs.filter((other) => other !== dir && !other.startsWith(dir + path.sep))
}

/** The whole plan (pure): the shared files and manifest edit around the placement's own part. */
export function planWhitelist(input: {
  placement: PlacementName
  paths: WhitelistPaths
  manifest: string
  manifestText: string
  policy: ImagePolicy
  settings: EnableCommonOptions['settings']
  target: BackendTarget
  /** Where the backend reads requireSignature's keys (the policy names them there); none: as the user named them. */
  keyDir?: string
  backend: (policyText: string) => BackendPlan
  registryCredentials?: RegistryCredentialsSource
  warnings: string[]
}): WhitelistPlan {
  const {paths, target} = input
  const policyText = renderPolicyFile(input.policy, input.keyDir)
  const backend = input.backend(policyText)
  const trustedCa = target.caFile ? path.resolve(target.caFile) : paths.caCert
  return {
    placement: input.placement,
    paths,
    manifest: input.manifest,
    manifestText: input.manifestText,
    policy: input.policy,
    policyFile: {path: paths.policy, content: policyText},
    target,
    trustedCa,
    backend,
    webhookKubeconfig: {
      path: paths.webhookKubeconfig,
      mode: 0o600,
      content: renderWebhookKubeconfig({
        server: target.webhookUrl,
        caFile: trustedCa,
        clientCertificate: paths.clientCert,
        clientKey: paths.clientKey,
      }),
    },
    admissionConfig: {
      path: paths.admissionConfig,
      mode: 0o600,
      content: renderAdmissionConfiguration({kubeConfigFile: paths.webhookKubeconfig, ...input.settings}),
    },
    // Every file the API server reads must be visible in its pod: --config-dir, and the directory of
    // an external backend's CA (planApiserverPatch mounts the same; listed here so the dry run shows it).
    apiserverEdit: {
      enablePlugins: [IMAGE_POLICY_PLUGIN],
      admissionConfig: paths.admissionConfig,
      hostPaths: [paths.configDir, ...outside(paths.configDir, [path.dirname(trustedCa)])],
    },
    policyDigest: backend.reportsPolicyDigest ? sha256(policyText) : undefined,
    registryCredentials: input.registryCredentials,
    warnings: [...input.warnings, ...(backend.warnings ?? [])],
  }
}

/**
 * `--dry-run=client`: every file and object of the plan, nothing written. Keys and certificates
 * are made at apply time and shown as placeholders, never printed.
 */
export function renderDryRun(plan: WhitelistPlan): RenderedFile[] {
  const edit = editApiserverManifest(
    plan.manifestText,
    {
      enablePlugins: plan.apiserverEdit.enablePlugins,
      setFlags: {'admission-control-config-file': plan.apiserverEdit.admissionConfig},
      hostPaths: plan.apiserverEdit.hostPaths,
    },
    plan.manifest,
  )
  return [
    plan.policyFile,
    {path: plan.webhookKubeconfig.path, content: plan.webhookKubeconfig.content},
    {path: plan.admissionConfig.path, content: plan.admissionConfig.content},
    ...plan.backend.preview,
    {path: `${plan.manifest} (patched)`, content: edit.text},
  ]
}

/** An object as --dry-run prints it: headed by kind/namespace/name. */
export function renderObject(object: Record<string, any>): RenderedFile {
  return {
    path: `${object.kind}/${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`,
    content: stringify(object, {indentSeq: false}),
  }
}

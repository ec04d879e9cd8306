// The default placement: the backend as a static pod on this control-plane node. The kubelet runs
// static pods whatever admission says, so a dead backend cannot block its own replacement; the API
// server reaches it on 127.0.0.1 of its own node.
import {existsSync, rmSync} from 'node:fs'
import path from 'node:path'

import {writeFileAtomic} from '../../atomic-write.js'
import {backupFile} from '../../controlplane/backups.js'
import {requirePinnedImage} from '../backend-image.js'
import {BACKEND_UID, renderStaticPod, STATIC_POD_FILE, trustedKeyFiles} from '../files.js'
import {ensureDir, readBackendBundle, readIfExists, writeIfChanged} from '../node-files.js'
import {loadOrIssueServing} from '../pki.js'
import type {ApplyMaterial, BackendPlan, PlannedFile, ResolvedEnableOptions} from '../plan.js'
import {credentialsPlaceholder} from '../registry-credentials.js'
import {bestEffortVersionWarning} from '../smoke.js'
import type {ApplyContext, BackendPlacement} from './placement.js'

type StaticOptions = Extract<ResolvedEnableOptions, {placement: 'static'}>

/** A planned file's content, with material made at apply time filled in. */
export function materialize(content: PlannedFile['content'], material: ApplyMaterial): string {
  if (typeof content === 'string') return content
  switch (content.material) {
    case 'ca.crt':
      return material.ca.certPem
    case 'serving.crt':
      return material.serving.certPem
    case 'serving.key':
      return material.serving.keyPem
    case 'bundle':
      return material.bundleText
    case 'docker-config':
      if (material.dockerConfig === undefined) throw new Error('no registry credentials to write')
      return material.dockerConfig
  }
}

/** The static pod is backed up before it is replaced, and journaled (the kubelet runs whatever is there). */
function writeStaticPod(file: string, text: string, context: ApplyContext): void {
  const current = readIfExists(file)
  if (current === text) return
  if (current !== undefined) context.backups.push(backupFile(file, context.options.backupDir, context.options.command))
  context.journal.rememberFile(file)
  writeFileAtomic(file, text, {mode: 0o600})
  context.changes.push(`${current === undefined ? 'wrote' : 'updated'} static pod ${file}`)
}

export const staticPlacement: BackendPlacement<StaticOptions> = {
  policyNeeds: (options) => ({exemptNamespaces: [], controlPlaneImages: [options.backendImage]}),

  // Copied beside the policy into the directory the static pod mounts.
  keyDir: (paths) => paths.backendDir,

  check(options, dryRun) {
    if (!dryRun) requirePinnedImage(options.backendImage)
  },

  async preflight(options, context) {
    if (!context.dryRun) {
      const warning = await bestEffortVersionWarning(context.cluster)
      if (warning) context.warnNow(warning)
    }
    return {webhookUrl: `https://127.0.0.1:${options.port}/image_policy`, servingHosts: ['127.0.0.1']}
  },

  plan(options, {paths, policy, policyText, registryCredentials}): BackendPlan {
    const owner = BACKEND_UID
    const staticPod = {
      path: path.join(path.resolve(options.manifestsDir), STATIC_POD_FILE),
      content: renderStaticPod({
        image: options.backendImage,
        paths,
        port: options.port,
        dockerConfig: registryCredentials !== undefined,
      }),
    }
    const keys = trustedKeyFiles(policy, paths.backendDir, owner)
    const credentials: PlannedFile[] = registryCredentials
      ? [{path: paths.dockerConfig, content: {material: 'docker-config'}, mode: 0o600, owner}]
      : []
    return {
      preview: [
        staticPod,
        ...keys,
        ...(registryCredentials
          ? [{path: paths.dockerConfig, content: credentialsPlaceholder(registryCredentials)}]
          : []),
      ],
      dir: {path: paths.backendDir, owner},
      files: [
        {path: paths.servingCert, content: {material: 'serving.crt'}, mode: 0o644, owner},
        {path: paths.servingKey, content: {material: 'serving.key'}, mode: 0o600, owner},
        {path: paths.clientCa, content: {material: 'ca.crt'}, mode: 0o644, owner},
        {path: paths.policy, content: policyText, mode: 0o644, owner},
        {path: paths.bundle, content: {material: 'bundle'}, mode: 0o644, owner},
        ...keys,
        ...credentials,
      ],
      staticPod,
      reportsPolicyDigest: true,
      notAnsweringHint: `; check that the kubelet runs ${staticPod.path} (crictl ps --name webhook, journalctl -u kubelet)`,
    }
  },

  async apply(plan, target, context) {
    if (plan.dir) ensureDir(plan.dir.path, plan.dir.owner, context.journal)
    const material: ApplyMaterial = {
      ca: context.pki.ca,
      serving: await loadOrIssueServing(context.paths, context.pki, target.servingHosts),
      bundleText: readBackendBundle(),
      dockerConfig: context.dockerConfig,
    }
    const credentials = plan.files.find((file) => file.path === context.paths.dockerConfig)
    // Credentials a previous run installed and this one does not give: the backend must not keep them.
    if (!credentials && existsSync(context.paths.dockerConfig)) {
      context.journal.rememberFile(context.paths.dockerConfig)
      rmSync(context.paths.dockerConfig)
      context.changes.push(`removed ${context.paths.dockerConfig}`)
    }
    for (const file of plan.files)
      writeIfChanged(
        file.path,
        materialize(file.content, material),
        file.mode,
        context.changes,
        file.owner,
        context.journal,
      )
    if (plan.staticPod) writeStaticPod(plan.staticPod.path, plan.staticPod.content, context)
    return {staticPod: plan.staticPod?.path, registryCredentials: credentials?.path}
  },

  // Nothing in the cluster to delete.
  async preflightUndo() {},

  async undo(state, context) {
    if (!state.staticPod || !existsSync(state.staticPod)) return
    context.backups.push(backupFile(state.staticPod, context.backupDir, context.command))
    rmSync(state.staticPod)
    context.changes.push(`removed static pod ${state.staticPod} (the kubelet stops the backend)`)
  },
}

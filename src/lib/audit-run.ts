import {readFileSync} from 'node:fs'

import {type AuditSummary, auditManifests, type Finding, summarize} from './audit.js'
import type {KubeTargetOptions} from './kubeconfig.js'
import {type ManifestReadError, readManifests} from './manifest-files.js'
import {type ImagePolicy, resolvePolicy} from './policy.js'
import {workloadOf} from './workloads.js'

export interface ImageAuditOptions {
  files?: string[]
  namespace?: string
  allNamespaces?: boolean
  selector?: string
  policyFile?: string
  allowedRegistries?: string[]
  requireDigest?: boolean
  kube: KubeTargetOptions
}

export interface ImageAuditResult {
  findings: Finding[]
  summary: AuditSummary
  workloads: number
  errors: ManifestReadError[]
}

/** The audit's policy: a file or flags; without a file no namespace is exempt (an audit shows everything). */
export function auditPolicy(options: ImageAuditOptions): ImagePolicy {
  const policy = resolvePolicy({policyFile: options.policyFile, allowedRegistries: options.allowedRegistries, requireDigest: options.requireDigest})
  return options.policyFile ? policy : {...policy, exemptNamespaces: []}
}

/** Audit files (when given) or the live cluster. Unreadable inputs are collected as errors; the rest is still audited. */
export async function runImageAudit(options: ImageAuditOptions): Promise<ImageAuditResult> {
  const policy = auditPolicy(options)
  if (options.files && options.files.length > 0) {
    const {objects, errors} = readManifests(options.files, () => readFileSync(0, 'utf8'))
    const findings = auditManifests(objects, policy)
    return {findings, summary: summarize(findings), workloads: objects.filter((m) => workloadOf(m.object)).length, errors}
  }
  const {auditCluster} = await import('./audit-cluster.js')
  const {findings, workloads} = await auditCluster(options, policy)
  return {findings, summary: summarize(findings), workloads, errors: []}
}

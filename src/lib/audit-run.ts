import {readFileSync} from 'node:fs'

import {type AuditedContainer, type AuditSummary, auditManifests, type Finding, summarize, vulnerabilityFindings} from './audit.js'
import {imageVulnerable} from './checks/index.js'
import type {KubeTargetOptions} from './kubeconfig.js'
import {type ManifestReadError, readManifests} from './manifest-files.js'
import {type ImagePolicy, resolvePolicy} from './policy.js'
import {describeReport, findTrivy, reportSeverity, scanImage} from './trivy.js'
import {workloadOf} from './workloads.js'

export interface ImageAuditOptions {
  files?: string[]
  namespace?: string
  allNamespaces?: boolean
  selector?: string
  policyFile?: string
  allowedRegistries?: string[]
  requireDigest?: boolean
  /** Scan each distinct image with trivy. */
  scan?: {severity?: string; ignoreUnfixed?: boolean}
  kube: KubeTargetOptions
}

export interface ImageAuditResult {
  findings: Finding[]
  summary: AuditSummary
  workloads: number
  errors: ManifestReadError[]
  /** Things the user should know that are not findings (e.g. trivy missing). */
  notices: string[]
}

/** The audit's policy: a file or flags; without a file no namespace is exempt (an audit shows everything). */
export function auditPolicy(options: ImageAuditOptions): ImagePolicy {
  const policy = resolvePolicy({policyFile: options.policyFile, allowedRegistries: options.allowedRegistries, requireDigest: options.requireDigest})
  return options.policyFile ? policy : {...policy, exemptNamespaces: []}
}

/** Audit files (when given) or the live cluster. Unreadable inputs are collected as errors; the rest is still audited. */
export async function runImageAudit(options: ImageAuditOptions): Promise<ImageAuditResult> {
  const policy = auditPolicy(options)
  let result: {findings: Finding[]; containers: AuditedContainer[]; workloads: number; errors: ManifestReadError[]}
  if (options.files && options.files.length > 0) {
    const {objects, errors} = readManifests(options.files, () => readFileSync(0, 'utf8'))
    result = {...auditManifests(objects, policy), workloads: objects.filter((m) => workloadOf(m.object)).length, errors}
  } else {
    const {auditCluster} = await import('./audit-cluster.js')
    result = {...await auditCluster(options, policy), errors: []}
  }
  const notices: string[] = []
  if (options.scan) {
    const trivy = findTrivy()
    if (trivy) {
      const limit = concurrencyLimit(2)
      const scanned = await vulnerabilityFindings(result.containers, (image) => limit(async () => {
        try {
          const report = await scanImage(image, {trivy, ...options.scan})
          const severity = reportSeverity(report)
          return severity ? {severity, message: describeReport(image, report)} : undefined
        } catch (error) {
          notices.push((error as Error).message)
          return undefined
        }
      }), imageVulnerable)
      result.findings.push(...scanned)
    } else {
      notices.push('--scan: trivy is not on PATH, so images were not scanned for vulnerabilities (install trivy); the other checks ran')
    }
  }
  return {findings: result.findings, summary: summarize(result.findings), workloads: result.workloads, errors: result.errors, notices}
}

/** Run at most `max` tasks at once (each trivy scan is a heavy process). */
function concurrencyLimit(max: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0
  const queue: Array<() => void> = []
  return async (task) => {
    if (running >= max) await new Promise<void>((resolve) => queue.push(resolve))
    running++
    try {
      return await task()
    } finally {
      running--
      queue.shift()?.()
    }
  }
}

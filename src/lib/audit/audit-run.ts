import {mkdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {type AuditedContainer, type AuditSummary, auditManifests, type Finding, summarize, vulnerabilityFindings} from './audit.js'
import {writeFileAtomic} from '../atomic-write.js'
import {backupFile} from '../controlplane/backups.js'
import {imageVulnerable} from './checks/index.js'
import {credentialsOf, type DockerCredential, parseDockerConfigJson} from '../image/docker-config.js'
import {unreadableFile} from '../describe-error.js'
import {UserError} from '../errors.js'
import {parseImageReference} from '../image/image-reference.js'
import type {KubeTargetOptions} from '../cluster/kubeconfig.js'
import {type ManifestReadError, readManifests, type ScalarLocation} from './manifest-files.js'
import {applyScalarEdits, pinnedImage, resolveDigests, tagKey} from './pin-images.js'
import {type ImagePolicy, resolvePolicy} from '../policy/policy.js'
import {describeReport, findTrivy, reportSeverity, scanImage} from './trivy.js'
import {containersOf, workloadOf} from './workloads.js'

export interface ImageAuditOptions {
  files?: string[]
  namespace?: string
  allNamespaces?: boolean
  selector?: string
  policyFile?: string
  allowedRegistries?: string[]
  requireDigest?: boolean
  /** Ask the registries which digest each tag points to now. */
  resolveDigests?: {dockerConfig?: string; caFile?: string; insecureSkipTlsVerify?: boolean}
  /** Write the files with images pinned by digest: copies under `dir`, or the originals (after a backup). */
  fix?: {dir: string; inPlace: boolean; backupDir: string}
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
  /** Files written by --fix. */
  changes: string[]
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
  let manifests: ReturnType<typeof readManifests> | undefined
  if (options.files && options.files.length > 0) {
    manifests = readManifests(options.files, () => readFileSync(0, 'utf8'))
    const {objects, errors} = manifests
    result = {...auditManifests(objects, policy), workloads: objects.filter((m) => workloadOf(m.object)).length, errors}
  } else {
    const {auditCluster} = await import('./audit-cluster.js')
    result = {...await auditCluster(options, policy), errors: []}
  }
  const notices: string[] = []
  const changes: string[] = []
  if (options.resolveDigests) {
    const dockerConfigCredentials = options.resolveDigests.dockerConfig ? dockerConfigFileCredentials(options.resolveDigests.dockerConfig) : []
    const {digests, failures} = await resolveDigests(
      result.containers.map((c) => ({image: c.image, credentials: [...(c.credentials ?? []), ...dockerConfigCredentials]})),
      options.resolveDigests,
    )
    notices.push(...failures)
    for (const finding of result.findings) {
      if (finding.check !== 'image-digest-missing') continue
      const digest = digestFor(digests, finding.image)
      if (digest) finding.message += `; the tag now points to ${digest}`
    }
    if (options.fix && manifests) changes.push(...writePinnedManifests(manifests, digests, options.fix, notices))
  }
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
  return {findings: result.findings, summary: summarize(result.findings), workloads: result.workloads, errors: result.errors, notices, changes}
}

function digestFor(digests: Map<string, string>, image: string): string | undefined {
  try {
    const reference = parseImageReference(image)
    return reference.digest ? undefined : digests.get(tagKey(reference))
  } catch {
    return undefined
  }
}

function dockerConfigFileCredentials(file: string): DockerCredential[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UserError(unreadableFile('--docker-config', `"${file}"`, error))
  }
  const source = `--docker-config "${file}"`
  return credentialsOf(parseDockerConfigJson(text, source), source)
}

/**
 * Pin every resolved image in the manifest files, changing only the image scalars' bytes.
 * Copies go under `fix.dir` (mirroring the paths); with `inPlace` the originals are backed up
 * and replaced atomically.
 */
function writePinnedManifests(manifests: ReturnType<typeof readManifests>, digests: Map<string, string>, fix: NonNullable<ImageAuditOptions['fix']>, notices: string[]): string[] {
  const edits = new Map<string, Array<{location: ScalarLocation; value: string}>>()
  for (const manifest of manifests.objects) {
    const workload = workloadOf(manifest.object)
    if (!workload) continue
    for (const {field, index, container} of containersOf(workload.podSpec)) {
      if (typeof container.image !== 'string') continue
      const digest = digestFor(digests, container.image)
      if (!digest) continue
      const location = manifest.scalarAt([...workload.podSpecPath, field, index, 'image'])
      if (!location || location.style === 'other') {
        notices.push(`${manifest.file}: ${container.image} is not a plain or quoted scalar; pin it by hand`)
        continue
      }
      edits.set(manifest.file, [...(edits.get(manifest.file) ?? []), {location, value: pinnedImage(container.image, parseImageReference(container.image), digest)}])
    }
  }
  const changes: string[] = []
  for (const [file, fileEdits] of edits) {
    if (file === '<stdin>') {
      notices.push('--fix cannot write back to standard input; pass the files with -f FILE')
      continue
    }
    const text = applyScalarEdits(manifests.texts.get(file)!, fileEdits)
    if (fix.inPlace) {
      const record = backupFile(file, fix.backupDir, 'kubectl imgsec audit images --fix --in-place')
      writeFileAtomic(file, text)
      changes.push(`pinned ${fileEdits.length} image${fileEdits.length === 1 ? '' : 's'} in ${file} (backup: ${record.backup})`)
    } else {
      const relative = path.relative(process.cwd(), path.resolve(file))
      const target = path.join(fix.dir, relative.startsWith('..') ? path.resolve(file).slice(path.parse(path.resolve(file)).root.length) : relative)
      mkdirSync(path.dirname(target), {recursive: true})
      writeFileAtomic(target, text)
      changes.push(`pinned ${fileEdits.length} image${fileEdits.length === 1 ? '' : 's'}: ${file} → ${target}`)
    }
  }
  return changes
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

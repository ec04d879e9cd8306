import {mkdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {type AuditInput, type AuditSummary, checksWithout, type Finding, runChecks, summarize} from './audit.js'
import {writeFileAtomic} from '../atomic-write.js'
import {backupFile} from '../controlplane/backups.js'
import {type CheckRule, type ContainerInstance, scanTargetOf, type Severity} from './checks/index.js'
import type {KubeClient} from '../cluster/kube-client.js'
import {credentialsOf, type DockerCredential, parseDockerConfigJson} from '../image/docker-config.js'
import {describeFailure, unreadableFile} from '../describe-error.js'
import {limitConcurrency} from '../concurrency.js'
import {UserError} from '../errors.js'
import {parseImageReference} from '../image/image-reference.js'
import {type ManifestReadError, readManifests, type ScalarLocation} from './manifest-files.js'
import {readManifestStdin} from './manifest-sources.js'
import {applyScalarEdits, pinnedImage, resolveDigests, tagKey} from './pin-images.js'
import {DEFAULT_POLICY, type ImagePolicy} from '../policy/policy.js'
import {resolvePolicy} from '../policy/policy-file.js'
import {describeReport, findTrivy, reportSeverity, scanImage} from './trivy.js'
import {readCaBundle} from '../pem.js'

export interface ImageAuditOptions {
  /** Manifest files, directories or `-` (stdin); without them the live cluster is audited. */
  files?: string[]
  policyFile?: string
  allowedRegistries?: string[]
  requireDigest?: boolean
  /** Check IDs to leave out (`--ignore-check`). */
  ignoreChecks?: string[]
  /** Ask the registries which digest each tag points to now. */
  resolveDigests?: {dockerConfig?: string; caFile?: string; insecureSkipTlsVerify?: boolean}
  /** Write the files with images pinned by digest: copies under `dir`, or the originals (after a backup). */
  fix?: {dir: string; inPlace: boolean; backupDir: string}
  /** Scan each distinct image with trivy. */
  scan?: {severity?: string; ignoreUnfixed?: boolean}
  /** Per-file (and stdin) size limit in bytes (`--max-file-size`; default 32 MiB). */
  maxFileSize?: number
  /** Input with no Kubernetes object at all is fine (`--allow-empty`); otherwise it is an error. */
  allowEmpty?: boolean
}

/** Cluster mode: the caller's client, the namespace to read (undefined: every namespace), a pod label selector. */
export interface ClusterScope {
  client: KubeClient
  namespace?: string
  selector?: string
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
  /** The checks that ran (the registry without --ignore-check's), for the report's rule list. */
  checks: readonly CheckRule[]
  /** Workloads of kinds the tool does not know, audited by their pod template (`Rollout default/web`). */
  byShape: string[]
  /** File sources: objects without a pod template. */
  skipped: number
}

/** Mistakes in the options that need no input read: refused before any file or cluster is touched. */
export function validateImageAudit(options: ImageAuditOptions): void {
  if (options.fix && !hasFiles(options)) throw new UserError('--fix edits manifest files: pass them with -f FILE|DIR')
  checksWithout(options.ignoreChecks ?? [])
  if (options.resolveDigests?.caFile !== undefined) readCaBundle('--ca-file', options.resolveDigests.caFile)
}

const hasFiles = (options: ImageAuditOptions) => options.files !== undefined && options.files.length > 0

/**
 * The audit's defaults: the admission defaults except that no namespace is exempt (an audit shows
 * everything). The webhook backend keeps its own default (kube-system).
 */
export const AUDIT_DEFAULT_POLICY: ImagePolicy = Object.freeze({...DEFAULT_POLICY, exemptNamespaces: []}) as ImagePolicy

/** The audit's policy: a file or flags; a namespace is exempt only when the policy file names it. */
export function auditPolicy(options: ImageAuditOptions): ImagePolicy {
  return resolvePolicy({
    policyFile: options.policyFile,
    allowedRegistries: options.allowedRegistries,
    requireDigest: options.requireDigest,
    defaults: AUDIT_DEFAULT_POLICY,
  })
}

/**
 * Audit files (when given) or the live cluster (through `cluster`, built by the caller).
 * Unreadable files are collected as errors; the rest is still audited.
 */
export async function runImageAudit(options: ImageAuditOptions, cluster?: ClusterScope): Promise<ImageAuditResult> {
  validateImageAudit(options)
  const checks = checksWithout(options.ignoreChecks ?? [])
  const policy = auditPolicy(options)
  let input: AuditInput
  let manifests: ReturnType<typeof readManifests> | undefined
  const files = options.files ?? []
  if (files.length > 0) {
    manifests = readManifests(files, {maxFileSize: options.maxFileSize, readStdin: (limit) => readManifestStdin(limit)})
    // A CI gate pointed at the wrong path must not pass: nothing to audit is an error.
    if (manifests.objects.length === 0 && manifests.errors.length === 0 && !options.allowEmpty) {
      throw new UserError(
        `no Kubernetes objects found in ${files.map((file) => (file === '-' ? 'standard input' : `"${file}"`)).join(', ')}; pass --allow-empty if that is expected`,
      )
    }
    const {manifestAuditInput} = await import('./audit-files.js')
    input = manifestAuditInput(manifests.objects, policy)
  } else {
    if (!cluster) throw new Error("runImageAudit: cluster mode needs the caller's kube client")
    const {clusterAuditInput} = await import('./audit-cluster.js')
    input = await clusterAuditInput(cluster.client, cluster, policy)
  }
  const notices: string[] = (manifests?.warnings ?? []).map(
    (warning) => `${warning.file}${warning.line ? `:${warning.line}` : ''}: ${warning.message}`,
  )
  const changes: string[] = []
  const digests = options.resolveDigests
    ? await resolveCurrentDigests(input, options.resolveDigests, notices)
    : undefined
  // Scanning is slow: skipped when its check is ignored.
  const scanning = checks.some((check) => check.id === 'image-vulnerable')
  const vulnerabilities =
    options.scan && scanning ? await scanImages(input.instances, options.scan, notices) : undefined
  const tally = {exempted: 0}
  const findings = runChecks(input, policy, checks, {vulnerabilities}, tally)
  if (digests) {
    for (const finding of findings) {
      if (finding.check !== 'image-digest-missing') continue
      const digest = digestFor(digests, finding.image)
      if (digest) finding.message += `; the tag now points to ${digest}`
    }
    if (options.fix && manifests)
      changes.push(...writePinnedManifests(input, manifests.texts, digests, options.fix, notices))
  }
  const byShape = input.workloads
    .filter(({workload}) => workload.byShape)
    .map(({workload}) => `${workload.kind} ${workload.namespace ? `${workload.namespace}/` : ''}${workload.name}`)
  return {
    findings,
    // Nothing disappears silently, in every format: what was audited only by its shape, what had nothing to audit.
    summary: {...summarize(findings, tally.exempted), auditedByShape: byShape, skipped: input.skipped ?? 0},
    workloads: input.workloads.length,
    errors: manifests?.errors ?? [],
    notices,
    changes,
    checks,
    byShape,
    skipped: input.skipped ?? 0,
  }
}

/** `--resolve-digests`: what each tag points to now, asked with the pods' pull secrets and `--docker-config`. */
async function resolveCurrentDigests(
  input: AuditInput,
  resolve: NonNullable<ImageAuditOptions['resolveDigests']>,
  notices: string[],
): Promise<Map<string, string>> {
  const fromFile = resolve.dockerConfig ? dockerConfigFileCredentials(resolve.dockerConfig) : []
  const credentialsOf = new Map(input.workloads.map((unit) => [unit.workload, unit.credentials ?? []]))
  const {digests, failures} = await resolveDigests(
    input.instances.map((c) => ({
      image: c.image,
      credentials: [...(credentialsOf.get(c.workload) ?? []), ...fromFile],
    })),
    resolve,
  )
  notices.push(...failures)
  return digests
}

/** `--scan`: each distinct image once (by the digest it runs when known), two trivy processes at a time. */
async function scanImages(
  instances: ContainerInstance[],
  scan: NonNullable<ImageAuditOptions['scan']>,
  notices: string[],
): Promise<Map<string, {severity?: Severity; message: string} | undefined> | undefined> {
  const trivy = findTrivy()
  if (!trivy) {
    notices.push(
      '--scan: trivy is not on PATH, so images were not scanned for vulnerabilities (install trivy); the other checks ran',
    )
    return undefined
  }
  const limit = limitConcurrency(2)
  const targets = [...new Set(instances.filter((c) => c.image).map(scanTargetOf))]
  const results = await Promise.all(
    targets.map((image) =>
      limit(async () => {
        try {
          const report = await scanImage(image, {trivy, ...scan})
          const severity = reportSeverity(report)
          return severity ? {severity, message: describeReport(image, report)} : undefined
        } catch (error) {
          notices.push(describeFailure(error))
          return undefined
        }
      }),
    ),
  )
  return new Map(targets.map((image, i) => [image, results[i]]))
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
function writePinnedManifests(
  input: AuditInput,
  texts: Map<string, string>,
  digests: Map<string, string>,
  fix: NonNullable<ImageAuditOptions['fix']>,
  notices: string[],
): string[] {
  const edits = new Map<string, Array<{location: ScalarLocation; value: string}>>()
  for (const {manifest, targets} of input.workloads) {
    if (!manifest) continue
    for (const {image, imagePath, container} of targets) {
      if (typeof container.image !== 'string') continue
      const digest = digestFor(digests, image)
      if (!digest) continue
      const location = manifest.scalarAt(imagePath)
      if (!location || location.style === 'other') {
        notices.push(`${manifest.file}: ${image} is not a plain or quoted scalar; pin it by hand`)
        continue
      }
      edits.set(manifest.file, [
        ...(edits.get(manifest.file) ?? []),
        {location, value: pinnedImage(image, parseImageReference(image), digest)},
      ])
    }
  }
  const changes: string[] = []
  for (const [file, fileEdits] of edits) {
    if (file === '<stdin>') {
      notices.push('--fix cannot write back to standard input; pass the files with -f FILE')
      continue
    }
    const text = applyScalarEdits(texts.get(file)!, fileEdits)
    if (fix.inPlace) {
      const record = backupFile(file, fix.backupDir, 'kubectl imgsec audit images --fix --in-place')
      writeFileAtomic(file, text)
      changes.push(
        `pinned ${fileEdits.length} image${fileEdits.length === 1 ? '' : 's'} in ${file} (backup: ${record.backup})`,
      )
    } else {
      const relative = path.relative(process.cwd(), path.resolve(file))
      const target = path.join(
        fix.dir,
        relative.startsWith('..') ? path.resolve(file).slice(path.parse(path.resolve(file)).root.length) : relative,
      )
      mkdirSync(path.dirname(target), {recursive: true})
      writeFileAtomic(target, text)
      changes.push(`pinned ${fileEdits.length} image${fileEdits.length === 1 ? '' : 's'}: ${file} → ${target}`)
    }
  }
  return changes
}

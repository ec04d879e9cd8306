import {type AuditInput, type AuditSummary, checksWithout, type Finding, runChecks, summarize} from './audit.js'
import type {FindingSink} from './cluster-stream.js'
import type {Check, ContainerCheck} from './checks/index.js'
import {readCaBundle} from '../pem.js'
import {UserError} from '../errors.js'
import {type ManifestReadError, readManifests} from './manifest-files.js'
import {readManifestStdin} from './manifest-sources.js'
import {digestFor, writePinnedManifests} from './fix-files.js'
import {DEFAULT_POLICY, type ImagePolicy} from '../policy/policy.js'
import {workloadLabel} from './workloads.js'
import {resolvePolicy} from '../policy/policy-file.js'
import type {ClusterScope, ImageAuditOptions, ImageAuditResult} from './audit-options.js'

export type {ClusterScope, ImageAuditOptions, ImageAuditResult} from './audit-options.js'

/** Mistakes in the options that need no input read: refused before any file or cluster is touched. */
export function validateImageAudit(options: ImageAuditOptions): void {
  if (options.fix && !hasFiles(options)) throw new UserError('--fix edits manifest files: pass them with -f FILE|DIR')
  checksWithout(options.ignoreChecks ?? [])
  const caFile = options.resolveDigests?.caFile ?? options.inspect?.caFile
  if (caFile !== undefined) readCaBundle('--ca-file', caFile)
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
 * Audit files (when given) or the live cluster (through `cluster`, built by the caller), handing
 * each finding to `sink` as it is made. Unreadable files are collected as errors; the rest is
 * still audited.
 */
export async function runImageAudit(
  options: ImageAuditOptions,
  cluster: ClusterScope | undefined,
  sink: FindingSink,
): Promise<ImageAuditResult> {
  validateImageAudit(options)
  const archives = options.imageArchives ?? []
  const checks = await auditChecks(options)
  const policy = auditPolicy(options)
  if (options.verifySignatures && !policy.requireSignature)
    throw new UserError(
      '--verify-signatures needs a --policy file with requireSignature (which repositories, which keys: README, "audit images")',
    )
  const summary = summarize([])
  const counting: FindingSink = {
    add(finding) {
      summary[finding.severity]++
      summary.total++
      sink.add(finding)
    },
    flush: () => sink.flush(),
  }
  const files = options.files ?? []
  const scanning = scans(checks)
  const perImage = asksRegistries(options, checks)
  if (archives.length === 0 && files.length === 0 && cluster && !perImage) {
    // The common cluster audit: streamed, nothing kept per pod.
    const {streamClusterAudit} = await import('./cluster-stream.js')
    const tally = {exempted: 0}
    const {workloads} = await streamClusterAudit(cluster.client, cluster, policy, checks, counting, tally)
    closeSummary(summary, tally.exempted, [], 0)
    return {summary, workloads, errors: [], notices: [], changes: [], checks, byShape: [], skipped: 0}
  }
  if (archives.length === 0 && files.length === 0 && cluster) {
    // Images asked about at their registries: the pods are read twice, first for the distinct
    // images (nothing per pod kept), then streamed and checked with what the registries said.
    const [{collectClusterImages}, {askRegistries}, {streamClusterAudit}] = await Promise.all([
      import('./cluster-images.js'),
      import('./per-image.js'),
      import('./cluster-stream.js'),
    ])
    const notices: string[] = []
    const distinct = await collectClusterImages(cluster.client, cluster, policy)
    const verifying = signaturesChecked(options, checks)
    const answers = await askRegistries(
      distinct,
      options,
      policy,
      {scanning, verifying, client: cluster.client},
      notices,
    )
    const {digests} = answers
    const noting: FindingSink = digests
      ? {add: (finding) => counting.add(noteCurrentDigest(finding, digests)), flush: () => counting.flush()}
      : counting
    const tally = {exempted: 0}
    const found = {inspected: answers.inspected, run: answers.run}
    const {workloads} = await streamClusterAudit(cluster.client, cluster, policy, checks, noting, tally, found)
    closeSummary(summary, tally.exempted, [], 0)
    const images = answers.images ? {images: answers.images} : {}
    return {summary, workloads, errors: [], notices, changes: [], ...images, checks, byShape: [], skipped: 0}
  }
  const pullSecretsMatter =
    policy.privateRegistries.length > 0 && checks.some((check) => check.id === 'image-pull-secret-missing')
  if (archives.length === 0 && files.length > 0 && !options.fix && !perImage && !pullSecretsMatter) {
    // The common file audit: one file at a time, nothing kept. The others need every file at once.
    const {streamManifestAudit} = await import('./audit-files.js')
    const tally = {exempted: 0}
    const containerChecks = checks.filter((check): check is ContainerCheck => check.kind === 'container')
    const read = await streamManifestAudit(files, readOptions(options), policy, containerChecks, counting, tally)
    if (read.objects === 0 && read.errors.length === 0 && !options.allowEmpty) throw nothingToAudit(files)
    closeSummary(summary, tally.exempted, read.byShape, read.skipped)
    return {
      summary,
      workloads: read.workloads,
      errors: read.errors,
      notices: read.warnings.map(describeWarning),
      changes: [],
      checks,
      byShape: read.byShape,
      skipped: read.skipped,
    }
  }
  if (archives.length === 0 && files.length > 0) {
    // Findings that depend on every file: two passes, one file at a time each (file-passes.ts).
    const [{collectFileImages, readTwice}, {askRegistries}, {streamManifestAudit}] = await Promise.all([
      import('./file-passes.js'),
      import('./per-image.js'),
      import('./audit-files.js'),
    ])
    const read = readTwice(readOptions(options))
    const first = collectFileImages(files, read, policy)
    if (first.objects === 0 && first.errors.length === 0 && !options.allowEmpty) throw nothingToAudit(files)
    const notices = first.warnings.map(describeWarning)
    const verifying = signaturesChecked(options, checks)
    const answers = await askRegistries(first.images, options, policy, {scanning, verifying}, notices)
    const {digests} = answers
    const note = (finding: Finding) => (digests ? noteCurrentDigest(finding, digests) : finding)
    const tally = {exempted: 0}
    const how = {index: first.index, answers, fix: options.fix, note, notices}
    const second = await streamManifestAudit(files, read, policy, checks, counting, tally, how)
    closeSummary(summary, tally.exempted, second.byShape, second.skipped)
    const {workloads, changes, byShape, skipped} = second
    const images = answers.images ? {images: answers.images} : {}
    return {summary, workloads, errors: first.errors, notices, changes, ...images, checks, byShape, skipped}
  }
  // Image archives (--image-archive, alone or with -f): the one audit that holds its whole input.
  let input: AuditInput
  let manifests: ReturnType<typeof readManifests> | undefined
  let archived: Awaited<ReturnType<typeof import('./audit-archive.js').archiveAuditInput>> | undefined
  if (archives.length > 0 && files.length === 0) {
    const {archiveAuditInput} = await import('./audit-archive.js')
    archived = await archiveAuditInput(archives, policy, options.inspect?.platforms)
    input = archived.input
  } else {
    // -f with --image-archive.
    manifests = readManifests(files, readOptions(options))
    if (manifests.objects.length === 0 && manifests.errors.length === 0 && !options.allowEmpty)
      throw nothingToAudit(files)
    const {manifestAuditInput} = await import('./audit-files.js')
    input = manifestAuditInput(manifests.objects, policy)
  }
  const notices: string[] = (manifests?.warnings ?? []).map(describeWarning)
  const changes: string[] = []
  // -f with --image-archive: the images an archive holds are read from it.
  const withArchives =
    archives.length > 0 && manifests
      ? await (
          await import('./audit-archive.js')
        ).inspectManifestsWithArchives(input, archives, policy, options.inspect ?? {}, notices)
      : undefined
  const {askRegistries} = await import('./per-image.js')
  const {digests, images, run} = await askRegistries(
    input,
    options,
    policy,
    {
      scanning,
      verifying: signaturesChecked(options, checks),
      archives: archived ?? withArchives,
    },
    notices,
  )
  const tally = {exempted: 0}
  const findings = runChecks(input, policy, checks, run, tally)
  if (digests) {
    for (const finding of findings) noteCurrentDigest(finding, digests)
    if (options.fix && manifests)
      changes.push(...writePinnedManifests(input, manifests.texts, digests, options.fix, notices))
  }
  const byShape = input.workloads.filter(({workload}) => workload.byShape).map(({workload}) => workloadLabel(workload))
  for (const finding of findings) counting.add(finding)
  closeSummary(summary, tally.exempted, byShape, input.skipped ?? 0)
  return {
    summary,
    workloads: input.workloads.length,
    errors: manifests?.errors ?? [],
    notices,
    changes,
    ...(images ? {images} : {}),
    checks,
    byShape,
    skipped: input.skipped ?? 0,
  }
}

/** The checks a run makes (the registry without --ignore-check's); an archive has images but no pod spec: only the image checks. */
export async function auditChecks(options: ImageAuditOptions): Promise<readonly Check[]> {
  const checks = checksWithout(options.ignoreChecks ?? [])
  if (!options.imageArchives?.length || hasFiles(options)) return checks
  const {ARCHIVE_CHECKS} = await import('./audit-archive.js')
  return checks.filter((check) => ARCHIVE_CHECKS.has(check.id))
}

/** Scanning is slow: skipped when its check is ignored. */
const scans = (checks: readonly Check[]) => checks.some((check) => check.id === 'image-vulnerable')

/** --resolve-digests, --scan (unless its check is ignored), --inspect, --verify-signatures: every image is asked about first. */
export function asksRegistries(options: ImageAuditOptions, checks: readonly Check[]): boolean {
  return Boolean(
    options.resolveDigests || (options.scan && scans(checks)) || options.inspect || options.verifySignatures,
  )
}

/** --resolve-digests: a finding about a missing digest says what the tag points to now. */
function noteCurrentDigest(finding: Finding, digests: Map<string, string>): Finding {
  const digest = finding.check === 'image-digest-missing' ? digestFor(digests, finding.image) : undefined
  if (digest) finding.message += `; the tag now points to ${digest}`
  return finding
}

/** --verify-signatures, unless every image-signature check is ignored. */
const signaturesChecked = (options: ImageAuditOptions, checks: readonly Check[]) =>
  Boolean(options.verifySignatures && checks.some((check) => check.id.startsWith('image-signature-')))

/** Nothing disappears silently, in every format: what was audited only by its shape, what had nothing to audit. */
function closeSummary(summary: AuditSummary, exempted: number, byShape: string[], skipped: number): void {
  summary.exempted = exempted
  summary.auditedByShape = byShape
  summary.skipped = skipped
}

const readOptions = (options: ImageAuditOptions) => ({
  maxFileSize: options.maxFileSize,
  readStdin: (limit: number) => readManifestStdin(limit),
})

const describeWarning = (warning: ManifestReadError) =>
  `${warning.file}${warning.line ? `:${warning.line}` : ''}: ${warning.message}`

/** A CI gate pointed at the wrong path must not pass: nothing to audit is an error. */
function nothingToAudit(files: string[]): UserError {
  return new UserError(
    `no Kubernetes objects found in ${files.map((file) => (file === '-' ? 'standard input' : `"${file}"`)).join(', ')}; pass --allow-empty if that is expected`,
  )
}

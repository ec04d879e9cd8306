// The options and result of one image audit (`runImageAudit`), shared by its steps.
import type {AuditSummary} from './audit.js'
import type {CheckRule} from './checks/index.js'
import type {ApiReader} from '../cluster/api-reader.js'
import type {ImageFacts} from '../image/image-facts.js'
import type {FixOptions} from './fix-files.js'
import type {AuditInspectOptions} from './inspect-images.js'
import type {ManifestReadError} from './manifest-files.js'

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
  fix?: FixOptions
  /** Verify the signatures the policy's requireSignature asks for (implies resolving tags, with `resolveDigests`' credentials). */
  verifySignatures?: boolean
  /** `--image-archive`: audit the images of these docker save / OCI layout tarballs, offline (with `files`: the manifests' images they hold). */
  imageArchives?: string[]
  /**
   * `--inspect`: read each image from its registry (config, layers) for the image-content checks.
   * `registries: false` (`-f` with `--image-archive` without `--inspect`): from the archives only.
   */
  inspect?: AuditInspectOptions & {registries?: boolean}
  /** Scan each distinct image with trivy. */
  scan?: {severity?: string; ignoreUnfixed?: boolean}
  /** Per-file (and stdin) size limit in bytes (`--max-file-size`; default 32 MiB). */
  maxFileSize?: number
  /** Input with no Kubernetes object at all is fine (`--allow-empty`); otherwise it is an error. */
  allowEmpty?: boolean
}

/** Cluster mode: the caller's client, the namespace to read (undefined: every namespace), a pod label selector. */
export interface ClusterScope {
  client: ApiReader
  namespace?: string
  selector?: string
  /** A fleet audit's ear: each image (as written) and the digest it runs, as the cluster is read. */
  observe?: (image: string, runningDigest: string) => void
}

export interface ImageAuditResult {
  summary: AuditSummary
  workloads: number
  errors: ManifestReadError[]
  /** Things the user should know that are not findings (e.g. trivy missing). */
  notices: string[]
  /** Files written by --fix. */
  changes: string[]
  /** `--inspect`: the facts of each distinct image read (one per platform), for the JSON report. */
  images?: ImageFacts[]
  /** The checks that ran (the registry without --ignore-check's), for the report's rule list. */
  checks: readonly CheckRule[]
  /** Workloads of kinds the tool does not know, audited by their pod template (`Rollout default/web`). */
  byShape: string[]
  /** File sources: objects without a pod template. */
  skipped: number
}

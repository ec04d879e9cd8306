import {capabilitiesAdded, capabilitiesNotDropped} from './capabilities.js'
import {imageHasNetworkTools, imageHasPackageManager, imageHasShell, imageSetuidFiles} from './image-contents.js'
import {imageDigestMissing} from './image-digest-missing.js'
import {imagePullPolicy} from './image-pull-policy.js'
import {imagePullSecretMissing} from './image-pull-secret-missing.js'
import {imageReferenceInvalid} from './image-reference-invalid.js'
import {imageRegistryNotAllowed} from './image-registry-not-allowed.js'
import {imageRunsAsRoot} from './image-runs-as-root.js'
import {imageSecretInConfig} from './image-secret-in-config.js'
import {imageStale} from './image-stale.js'
import {imageSignatureInvalid, imageSignatureMissing} from './image-signature.js'
import {imageTagDigestDrift} from './image-tag-digest-drift.js'
import {imageTagDigestMismatch} from './image-tag-digest-mismatch.js'
import {imageTagLatest} from './image-tag-latest.js'
import {imageTagMissing} from './image-tag-missing.js'
import {imageVulnerable} from './image-vulnerable.js'
import {privilegeEscalation} from './privilege-escalation.js'
import {privileged} from './privileged.js'
import {resourcesMissing} from './resources-missing.js'
import {rootFilesystemWritable} from './root-filesystem-writable.js'
import {runAsRoot} from './run-as-root.js'
import type {Check, ContainerCheck, CrossClusterCheck, CrossWorkloadCheck} from './types.js'

/**
 * Every check, in report order: per-container checks (`kind: 'container'`) run on each container
 * of each workload, cross-workload checks (`kind: 'cross-workload'`) once on every container of
 * the run, cross-cluster checks (`kind: 'cross-cluster'`) once on what runs in every cluster of a
 * fleet audit. Adding a check: one file and one line here (and its section in docs/checks.md).
 */
export const CHECKS: readonly Check[] = [
  imageReferenceInvalid,
  imageRegistryNotAllowed,
  imageTagLatest,
  imageTagMissing,
  imageDigestMissing,
  imagePullPolicy,
  imagePullSecretMissing,
  privileged,
  runAsRoot,
  privilegeEscalation,
  capabilitiesAdded,
  capabilitiesNotDropped,
  rootFilesystemWritable,
  resourcesMissing,
  imageRunsAsRoot,
  imageHasShell,
  imageHasPackageManager,
  imageHasNetworkTools,
  imageStale,
  imageSecretInConfig,
  imageSetuidFiles,
  imageTagDigestMismatch,
  imageVulnerable,
  imageSignatureMissing,
  imageSignatureInvalid,
  imageTagDigestDrift,
]

export const CHECK_IDS: readonly string[] = CHECKS.map((check) => check.id)

export const CONTAINER_CHECKS: readonly ContainerCheck[] = CHECKS.filter(
  (check): check is ContainerCheck => check.kind === 'container',
)

export const CROSS_WORKLOAD_CHECKS: readonly CrossWorkloadCheck[] = CHECKS.filter(
  (check): check is CrossWorkloadCheck => check.kind === 'cross-workload',
)

export {scanTargetOf} from './image-vulnerable.js'
export * from './types.js'

export const CROSS_CLUSTER_CHECKS: readonly CrossClusterCheck[] = CHECKS.filter(
  (check): check is CrossClusterCheck => check.kind === 'cross-cluster',
)

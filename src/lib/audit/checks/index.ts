import {capabilitiesAdded, capabilitiesNotDropped} from './capabilities.js'
import {imageDigestMissing} from './image-digest-missing.js'
import {imagePullPolicy} from './image-pull-policy.js'
import {imagePullSecretMissing} from './image-pull-secret-missing.js'
import {imageReferenceInvalid} from './image-reference-invalid.js'
import {imageRegistryNotAllowed} from './image-registry-not-allowed.js'
import {imageTagLatest} from './image-tag-latest.js'
import {imageTagMissing} from './image-tag-missing.js'
import {privilegeEscalation} from './privilege-escalation.js'
import {privileged} from './privileged.js'
import {resourcesMissing} from './resources-missing.js'
import {rootFilesystemWritable} from './root-filesystem-writable.js'
import {runAsRoot} from './run-as-root.js'
import {imageTagDigestMismatch} from './image-tag-digest-mismatch.js'
import {imageVulnerable} from './image-vulnerable.js'
import type {Check, CheckInfo} from './types.js'

/** Every per-container check, in report order. Adding a check: one file and one line here. */
export const CONTAINER_CHECKS: readonly Check[] = [
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
]

/** Every check a report can mention: the per-container ones and those computed across pods. */
export const ALL_CHECKS: readonly CheckInfo[] = [...CONTAINER_CHECKS, imageTagDigestMismatch, imageVulnerable]

export {imageTagDigestMismatch, imageVulnerable}
export * from './types.js'

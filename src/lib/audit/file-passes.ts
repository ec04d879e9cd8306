// File audits whose findings depend on every file (--resolve-digests, --fix, --scan, --inspect,
// --verify-signatures, and image-pull-secret-missing with private registries declared), read in
// two passes, one file at a time each: the first (here) collects the distinct images and the pull
// secrets the files declare, the registries are asked about those images, and the second
// (streamManifestAudit with a SecondPass) checks, and with --fix pins, each file with the
// answers. Memory follows the images, not the files.
import {containerTargets, type AuditInput} from './audit.js'
import {type PullSecretIndex, pullSecretIndex} from './audit-files.js'
import type {ContainerTarget} from './checks/index.js'
import {type ManifestReadError, manifestFileReads, type ReadManifestsOptions} from './manifest-files.js'
import {imageTarget} from './per-image.js'
import type {ImagePolicy} from '../policy/policy.js'
import {workloadOf, type Workload} from './workloads.js'

export interface FirstPass {
  /** The distinct images, as an input for the per-image steps (one stand-in workload). */
  images: AuditInput
  index: PullSecretIndex
  objects: number
  errors: ManifestReadError[]
  warnings: ManifestReadError[]
}

/** Standard input can be read once: both passes get the same text. */
export function readTwice(read: ReadManifestsOptions): ReadManifestsOptions {
  let stdin: string | undefined
  return {...read, readStdin: (limit) => (stdin ??= read.readStdin(limit))}
}

/** The first pass: every file read, parsed and dropped; the images and pull secrets kept. */
export function collectFileImages(files: string[], read: ReadManifestsOptions, policy: ImagePolicy): FirstPass {
  const standIn: Workload = {kind: 'Pod', name: 'images of the files', annotations: {}, podSpec: {}, podSpecPath: []}
  const distinct = new Map<string, ContainerTarget>()
  const pass: FirstPass = {
    images: {workloads: [], instances: []},
    index: pullSecretIndex([]),
    objects: 0,
    errors: [],
    warnings: [],
  }
  const reads = manifestFileReads(files, read)
  // One call per file: nothing of it is reachable once the call ends (see manifestFileReads).
  const collectNextFile = (): boolean => {
    const next = reads.next()
    if (next.done) return false
    const {parsed} = next.value()
    pass.objects += parsed.objects.length
    pass.errors.push(...parsed.errors)
    pass.warnings.push(...parsed.warnings)
    pullSecretIndex(parsed.objects, pass.index)
    for (const {object} of parsed.objects) {
      const workload = workloadOf(object)
      if (!workload) continue
      for (const target of containerTargets(workload, policy))
        if (!distinct.has(target.image)) distinct.set(target.image, imageTarget(target, standIn))
    }
    return true
  }
  while (collectNextFile());
  const targets = [...distinct.values()]
  pass.images = {
    workloads: [{workload: standIn, context: {mode: 'file', policy, usablePullSecretNames: []}, targets}],
    instances: targets.map((target) => ({workload: standIn, container: target.name, image: target.image})),
  }
  return pass
}

// File audits whose findings depend on every file (--resolve-digests, --fix, --scan, --inspect,
// --verify-signatures, and image-pull-secret-missing with private registries declared), read in
// two passes, one file at a time each: the first collects the distinct images and the pull
// secrets the files declare, the registries are asked about those images, and the second checks
// (and with --fix, pins) each file with the answers. Memory follows the images, not the files.
import {auditWorkload, containerTargets, type AuditInput, type ExemptionTally, type Finding} from './audit.js'
import {type PullSecretIndex, manifestAuditInput, pullSecretIndex} from './audit-files.js'
import type {Check, ContainerCheck, ContainerInstance, ContainerTarget} from './checks/index.js'
import type {FindingSink} from './cluster-stream.js'
import {type FixOptions, writePinnedManifests} from './fix-files.js'
import {type ManifestReadError, manifestFileReads, type ReadManifestsOptions} from './manifest-files.js'
import type {RegistryAnswers} from './per-image.js'
import type {ImagePolicy} from '../policy/policy.js'
import {runCrossWorkloadChecks} from './audit.js'
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
        if (!distinct.has(target.image))
          distinct.set(target.image, {
            ...target,
            workload: standIn,
            container: {name: target.container.name, image: target.container.image},
          })
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

/** The second pass: each file checked with the registries' answers (and pinned with --fix), then dropped. */
export async function checkFiles(
  files: string[],
  read: ReadManifestsOptions,
  policy: ImagePolicy,
  checks: readonly Check[],
  how: {index: PullSecretIndex; answers: RegistryAnswers; fix?: FixOptions; note: (finding: Finding) => Finding},
  sink: FindingSink,
  tally: ExemptionTally,
  notices: string[],
): Promise<{workloads: number; byShape: string[]; skipped: number; changes: string[]}> {
  const containerChecks = checks.filter((check): check is ContainerCheck => check.kind === 'container')
  const result = {workloads: 0, byShape: [] as string[], skipped: 0, changes: [] as string[]}
  // What the cross-workload checks read: one compact record per container, no pod spec.
  const instances: ContainerInstance[] = []
  const reads = manifestFileReads(files, read)
  const checkNextFile = async (): Promise<boolean> => {
    const next = reads.next()
    if (next.done) return false
    const {parsed, source} = next.value()
    const input = manifestAuditInput(parsed.objects, policy, how.index)
    result.skipped += input.skipped ?? 0
    result.workloads += input.workloads.length
    const compact = new Map<Workload, Workload>()
    for (const unit of input.workloads) {
      const {workload} = unit
      if (workload.byShape)
        result.byShape.push(`${workload.kind} ${workload.namespace ? `${workload.namespace}/` : ''}${workload.name}`)
      if (how.answers.inspected) unit.context.inspected = how.answers.inspected
      for (const finding of auditWorkload(unit, containerChecks, tally)) sink.add(how.note(finding))
      compact.set(workload, {...workload, podSpec: {}})
    }
    for (const instance of input.instances) instances.push({...instance, workload: compact.get(instance.workload)!})
    if (how.fix && how.answers.digests && source)
      result.changes.push(
        ...writePinnedManifests(input, new Map([[source.file, source.text]]), how.answers.digests, how.fix, notices),
      )
    // The report's backpressure, file by file.
    await sink.flush()
    return true
  }
  // eslint-disable-next-line no-await-in-loop -- files are checked one after another by design
  while (await checkNextFile());
  for (const finding of runCrossWorkloadChecks(instances, policy, checks, how.answers.run, tally))
    sink.add(how.note(finding))
  return result
}

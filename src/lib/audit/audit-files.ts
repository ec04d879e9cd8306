import type {AuditedWorkload, AuditInput, ExemptionTally, Finding} from './audit.js'
import {auditWorkload, containerTargets, runCrossWorkloadChecks} from './audit.js'
import type {Check, ContainerCheck, ContainerInstance} from './checks/index.js'
import type {FindingSink} from './cluster-stream.js'
import {type FixOptions, writePinnedManifests} from './fix-files.js'
import {pullSecretServers} from '../image/docker-config.js'
import {
  type ManifestObject,
  type ManifestReadError,
  manifestFileReads,
  type ReadManifestsOptions,
} from './manifest-files.js'
import type {RegistryAnswers} from './per-image.js'
import type {ImagePolicy} from '../policy/policy.js'
import {usablePullSecrets, type Workload, withoutPodSpec, workloadLabel, workloadOf} from './workloads.js'

/** Which pull secrets the files declare (their registry servers) and which each service account names. */
export interface PullSecretIndex {
  secretServers: Map<string, string[]>
  accountSecrets: Map<string, string[]>
}

const indexKey = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`

/** Add the Secrets and ServiceAccounts among `objects` to `index` (a new one by default). */
export function pullSecretIndex(
  objects: readonly ManifestObject[],
  index: PullSecretIndex = {secretServers: new Map(), accountSecrets: new Map()},
): PullSecretIndex {
  for (const {object} of objects) {
    const name = object?.metadata?.name
    if (typeof name !== 'string') continue
    if (object.kind === 'Secret')
      index.secretServers.set(indexKey(object.metadata.namespace, name), pullSecretServers(object))
    if (object.kind === 'ServiceAccount') {
      index.accountSecrets.set(
        indexKey(object.metadata.namespace, name),
        (object.imagePullSecrets ?? []).map((ref: {name?: string}) => ref?.name).filter(Boolean),
      )
    }
  }
  return index
}

/**
 * The audit's input from objects read from files. Secrets and ServiceAccounts found in the files
 * (these objects', or `index` built over every file) tell which pull secrets a pod can use, as
 * they would in the cluster.
 */
export function manifestAuditInput(
  objects: ManifestObject[],
  policy: ImagePolicy,
  index: PullSecretIndex = pullSecretIndex(objects),
): AuditInput {
  const key = indexKey
  const {secretServers, accountSecrets} = index
  const input: AuditInput = {workloads: [], instances: [], skipped: 0}
  for (const manifest of objects) {
    const workload = workloadOf(manifest.object)
    if (!workload) {
      input.skipped = (input.skipped ?? 0) + 1
      continue
    }
    const names = usablePullSecrets(workload.podSpec, (account) => accountSecrets.get(key(workload.namespace, account)))
    // Secret contents are known only when every referenced Secret is in the files.
    const known = names.every((name) => secretServers.has(key(workload.namespace, name)))
    const unit: AuditedWorkload = {
      workload,
      context: {
        mode: 'file',
        policy,
        usablePullSecretNames: names,
        usablePullSecretServers:
          known && names.length > 0
            ? names.flatMap((name) => secretServers.get(key(workload.namespace, name)) ?? [])
            : undefined,
      },
      targets: containerTargets(workload, policy),
      manifest,
    }
    input.workloads.push(unit)
    for (const target of unit.targets) {
      input.instances.push({
        workload,
        container: target.name,
        image: target.image,
        file: manifest.file,
        line: manifest.lineOf(target.imagePath),
      })
    }
  }
  return input
}

/** The second of two passes (file-passes.ts): what the first learnt and what the registries said. */
export interface SecondPass {
  /** The pull secrets every file declares. */
  index: PullSecretIndex
  answers: RegistryAnswers
  /** --fix: each file pinned as it is checked. */
  fix?: FixOptions
  /** --resolve-digests: what a finding adds about the tag's digest now. */
  note: (finding: Finding) => Finding
  /** Where --fix's notices go. */
  notices: string[]
}

/**
 * The file audit one file at a time: each file is parsed, its workloads checked and its findings
 * handed to `sink`, and nothing of it is kept but, when cross-workload checks run, one compact
 * record per container. Alone, a file's pull secrets are those it declares; as the second of two
 * passes (`second`), those of every file, with the registries' answers (file-passes.ts).
 */
export async function streamManifestAudit(
  inputs: string[],
  read: ReadManifestsOptions,
  policy: ImagePolicy,
  checks: readonly Check[],
  sink: FindingSink,
  tally: ExemptionTally,
  second?: SecondPass,
): Promise<{
  objects: number
  workloads: number
  byShape: string[]
  skipped: number
  errors: ManifestReadError[]
  warnings: ManifestReadError[]
  changes: string[]
}> {
  const result = {
    objects: 0,
    workloads: 0,
    byShape: [] as string[],
    skipped: 0,
    errors: [] as ManifestReadError[],
    warnings: [] as ManifestReadError[],
    changes: [] as string[],
  }
  const containerChecks = checks.filter((check): check is ContainerCheck => check.kind === 'container')
  // What the cross-workload checks read, when they run: one compact record per container, no pod spec.
  const instances: ContainerInstance[] | undefined = checks.some((check) => check.kind === 'cross-workload')
    ? []
    : undefined
  const note = second?.note ?? ((finding: Finding) => finding)
  const reads = manifestFileReads(inputs, read)
  // One call per file: its documents are unreachable once the call ends (see manifestFileReads).
  const auditNextFile = async (): Promise<boolean> => {
    const next = reads.next()
    if (next.done) return false
    const {parsed, source} = next.value()
    result.objects += parsed.objects.length
    result.errors.push(...parsed.errors)
    result.warnings.push(...parsed.warnings)
    const input = manifestAuditInput(parsed.objects, policy, second?.index)
    result.skipped += input.skipped ?? 0
    result.workloads += input.workloads.length
    const compact = new Map<Workload, Workload>()
    for (const unit of input.workloads) {
      const {workload} = unit
      if (workload.byShape) result.byShape.push(workloadLabel(workload))
      if (second?.answers.inspected) unit.context.inspected = second.answers.inspected
      for (const finding of auditWorkload(unit, containerChecks, tally)) sink.add(note(finding))
      compact.set(workload, withoutPodSpec(workload))
    }
    for (const instance of instances ? input.instances : [])
      instances!.push({...instance, workload: compact.get(instance.workload)!})
    const digests = second?.answers.digests
    if (second?.fix && digests && source)
      result.changes.push(
        ...writePinnedManifests(input, new Map([[source.file, source.text]]), digests, second.fix, second.notices),
      )
    // The report's backpressure, file by file.
    await sink.flush()
    return true
  }
  // eslint-disable-next-line no-await-in-loop -- files are audited one after another by design
  while (await auditNextFile());
  if (instances)
    for (const finding of runCrossWorkloadChecks(instances, policy, checks, second?.answers.run ?? {}, tally))
      sink.add(note(finding))
  return result
}

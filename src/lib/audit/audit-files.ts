import type {AuditedWorkload, AuditInput, ExemptionTally} from './audit.js'
import {auditWorkload, containerTargets} from './audit.js'
import type {ContainerCheck} from './checks/index.js'
import type {FindingSink} from './cluster-stream.js'
import {pullSecretServers} from '../image/docker-config.js'
import {
  type ManifestObject,
  type ManifestReadError,
  manifestFileReads,
  type ReadManifestsOptions,
} from './manifest-files.js'
import type {ImagePolicy} from '../policy/policy.js'
import {usablePullSecrets, workloadOf} from './workloads.js'

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

/**
 * The file audit one file at a time: each file is parsed, its workloads checked and its findings
 * handed to `sink`, and nothing of it is kept. Only for runs whose findings cannot depend on
 * another file: the caller keeps `manifestAuditInput` over all files for --fix,
 * --resolve-digests, --scan, and for image-pull-secret-missing with private registries declared
 * (a Secret or ServiceAccount in another file decides it).
 */
export async function streamManifestAudit(
  inputs: string[],
  read: ReadManifestsOptions,
  policy: ImagePolicy,
  checks: readonly ContainerCheck[],
  sink: FindingSink,
  tally: ExemptionTally,
): Promise<{
  objects: number
  workloads: number
  byShape: string[]
  skipped: number
  errors: ManifestReadError[]
  warnings: ManifestReadError[]
}> {
  const result = {objects: 0, workloads: 0, byShape: [] as string[], skipped: 0, errors: [] as ManifestReadError[]}
  const warnings: ManifestReadError[] = []
  const reads = manifestFileReads(inputs, read)
  // One call per file: its documents are unreachable once the call ends (see manifestFileReads).
  const auditNextFile = async (): Promise<boolean> => {
    const next = reads.next()
    if (next.done) return false
    const {parsed} = next.value()
    result.objects += parsed.objects.length
    result.errors.push(...parsed.errors)
    warnings.push(...parsed.warnings)
    const input = manifestAuditInput(parsed.objects, policy)
    result.skipped += input.skipped ?? 0
    result.workloads += input.workloads.length
    for (const unit of input.workloads) {
      const {workload} = unit
      if (workload.byShape)
        result.byShape.push(`${workload.kind} ${workload.namespace ? `${workload.namespace}/` : ''}${workload.name}`)
      for (const finding of auditWorkload(unit, checks, tally)) sink.add(finding)
    }
    // The report's backpressure, file by file.
    await sink.flush()
    return true
  }
  // eslint-disable-next-line no-await-in-loop -- files are audited one after another by design
  while (await auditNextFile());
  return {...result, warnings}
}

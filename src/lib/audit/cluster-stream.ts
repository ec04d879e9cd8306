import {auditWorkload, containerTargets, type ExemptionTally, type Finding, runCrossWorkloadChecks} from './audit.js'
import {
  clusterWorkload,
  listPath,
  podWorkload,
  type RawPod,
  readOwners,
  readPullSecrets,
  runningDigestOf,
} from './audit-cluster.js'
import type {Check, ContainerCheck, ContainerInstance} from './checks/index.js'
import type {InspectedImages, RunContext} from './checks/types.js'
import type {ApiReader} from '../cluster/api-reader.js'
import {forEachRawPage} from '../cluster/kube-client.js'
import type {ImagePolicy} from '../policy/policy.js'
import {containersOf, type Workload, withoutPodSpec} from './workloads.js'
import {stringPool} from '../string-pool.js'

/** Records of a workload scanned one by one; past this many, looked up by a key. */
const RECORDS_SCANNED = 16

interface KeptWorkload {
  workload: Workload
  /** Its container records, in an array of their exact length (push would reserve room for 16 more). */
  records: ContainerInstance[]
  /** Its container records by `recordKey`, once there are more than RECORDS_SCANNED (then `records` is emptied). */
  index?: Map<string, ContainerInstance>
}

const recordKey = (container: string, image: string, runningDigest: string | undefined) =>
  `${container}\u0000${image}\u0000${runningDigest ?? ''}`

function findRecord(
  kept: KeptWorkload,
  container: string,
  image: string,
  runningDigest: string | undefined,
): ContainerInstance | undefined {
  if (kept.index) return kept.index.get(recordKey(container, image, runningDigest))
  return kept.records.find(
    (known) => known.container === container && known.image === image && known.runningDigest === runningDigest,
  )
}

function addRecord(kept: KeptWorkload, record: ContainerInstance): void {
  if (kept.index) {
    kept.index.set(recordKey(record.container, record.image, record.runningDigest), record)
    return
  }
  kept.records = [...kept.records, record]
  if (kept.records.length > RECORDS_SCANNED) {
    kept.index = new Map(
      kept.records.map((known) => [recordKey(known.container, known.image, known.runningDigest), known]),
    )
    kept.records = []
  }
}

/** Where findings go as they are made; `flush` is awaited after each page (the report's backpressure). */
export interface FindingSink {
  add(finding: Finding): void
  flush(): Promise<void>
  /**
   * A report that prints each finding the same wherever it falls (JSON, YAML, SARIF) renders it
   * ahead (`render`) and takes the text back in its place (`addRendered`): a fleet parks the
   * text, not the finding, and never parses and renders it again.
   */
  render?(finding: Finding): string
  addRendered?(text: string): void
}

/** What the run learnt about each image before the pods were read again (--inspect, --verify-signatures, --scan). */
export interface PerImageFindings {
  inspected?: InspectedImages
  run?: RunContext
}

/**
 * The cluster audit as the pods arrive: owners, pull secrets and service accounts first, then
 * the pods page by page. A workload is checked on its first pod (as `clusterAuditInput` folds
 * them) and its findings go to `sink` at once; its pod spec is not kept. What the cross-workload
 * checks need stays, in compact form: one record per workload container, image and running
 * digest, counting its pods. Memory does not grow with the pods, only (slightly) with the
 * workloads and owners.
 */
export async function streamClusterAudit(
  client: ApiReader,
  scope: {namespace?: string; selector?: string; observe?: (image: string, runningDigest: string) => void},
  policy: ImagePolicy,
  checks: readonly Check[],
  sink: FindingSink,
  tally: ExemptionTally,
  found: PerImageFindings = {},
): Promise<{workloads: number}> {
  const {namespace} = scope
  // Signatures and scans judge every container, pinned or not; without them only what runs by a digest matters.
  const everyInstance = Boolean(found.run?.signatures || found.run?.vulnerabilities)
  const owners = await readOwners(client, namespace)
  const secrets = await readPullSecrets(client, namespace)
  const containerChecks = checks.filter((check): check is ContainerCheck => check.kind === 'container')
  // Per workload: the compact view the cross-workload checks and exemptions read (no pod spec), and
  // its containers as they run. Many workloads run the same images: each image and digest string
  // is kept once (`shared`). A workload's few records are found by a scan of an exact-length array
  // (`records`); past RECORDS_SCANNED of them (one owner of many different containers), by a key.
  // `instances` holds every record in the order the pods were listed, for the cross-workload checks.
  const workloads = new Map<string, KeptWorkload>()
  const instances: ContainerInstance[] = []
  const shared = stringPool()

  const add = (pod: RawPod) => {
    const {id, workload: full} = podWorkload(pod, owners)
    let entry = workloads.get(id)
    let containers: Array<{name?: string; image?: string}>
    if (entry) {
      containers = containersOf(full.podSpec).map(({container}) => container)
    } else {
      const targets = containerTargets(full, policy)
      const unit = clusterWorkload({workload: full, targets}, secrets(full.namespace ?? ''), policy)
      if (found.inspected) unit.context.inspected = found.inspected
      for (const finding of auditWorkload(unit, containerChecks, tally)) sink.add(finding)
      entry = {workload: withoutPodSpec(full), records: []}
      workloads.set(id, entry)
      containers = targets.map((t) => ({name: t.container.name, image: t.container.image}))
    }
    for (const container of containers) {
      const name = container.name ?? ''
      const image = container.image ?? ''
      const runningDigest = runningDigestOf(pod, container.name)
      // Only what runs by a known digest can disagree with another pod (image-tag-digest-mismatch).
      if (!runningDigest && !everyInstance) continue
      const instance = findRecord(entry, name, image, runningDigest)
      if (instance) instance.pods = (instance.pods ?? 1) + 1
      else {
        const record = {
          workload: entry.workload,
          container: shared(name),
          image: shared(image),
          runningDigest: runningDigest && shared(runningDigest),
          pods: 1,
        }
        addRecord(entry, record)
        instances.push(record)
        if (runningDigest) scope.observe?.(image, runningDigest)
      }
    }
  }

  await client.call({verb: 'list', resource: 'pods', namespace}, () =>
    forEachRawPage<RawPod>(
      client,
      listPath(namespace, 'api/v1', 'pods'),
      {labelSelector: scope.selector},
      async (pods) => {
        // Each pod dropped once audited: the rest of the page is all that survives the scavenges it causes.
        for (let i = 0; i < pods.length; i++) {
          add(pods[i])
          pods[i] = undefined as unknown as RawPod
        }
        await sink.flush()
      },
    ),
  )
  for (const finding of runCrossWorkloadChecks(instances, policy, checks, found.run ?? {}, tally)) sink.add(finding)
  return {workloads: workloads.size}
}

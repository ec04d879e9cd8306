import type {AuditedWorkload, AuditInput} from './audit.js'
import {containerTargets} from './audit.js'
import {pullSecretServers} from '../image/docker-config.js'
import type {ManifestObject} from './manifest-files.js'
import type {ImagePolicy} from '../policy/policy.js'
import {usablePullSecrets, workloadOf} from './workloads.js'

/**
 * The audit's input from objects read from files. Secrets and ServiceAccounts found in the same
 * files tell which pull secrets a pod can use, as they would in the cluster.
 */
export function manifestAuditInput(objects: ManifestObject[], policy: ImagePolicy): AuditInput {
  const key = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`
  const secretServers = new Map<string, string[]>()
  const accountSecrets = new Map<string, string[]>()
  for (const {object} of objects) {
    const name = object?.metadata?.name
    if (typeof name !== 'string') continue
    if (object.kind === 'Secret') secretServers.set(key(object.metadata.namespace, name), pullSecretServers(object))
    if (object.kind === 'ServiceAccount') {
      accountSecrets.set(
        key(object.metadata.namespace, name),
        (object.imagePullSecrets ?? []).map((ref: {name?: string}) => ref?.name).filter(Boolean),
      )
    }
  }
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

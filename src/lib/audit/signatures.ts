// `--verify-signatures`: each distinct image the policy's requireSignature covers is verified once
// (by the digest the pod runs, the one written, or the one its tag points to now), with the pods'
// pull secrets and --docker-config. The verdicts feed the image-signature-* checks; an image that
// could not be checked is a notice, not a finding, as for --resolve-digests.
import type {AuditInput} from './audit.js'
import {scanTargetOf} from './checks/index.js'
import {limitConcurrency} from '../concurrency.js'
import {safeErrorMessage} from '../describe-error.js'
import {credentialForImage, type DockerCredential} from '../image/docker-config.js'
import {type ImageReference, parseImageReference} from '../image/image-reference.js'
import type {RegistryConnection} from '../image/registry-client.js'
import type {ImagePolicy} from '../policy/policy.js'
import {signatureRequirementFor} from '../policy/signature-policy.js'
import type {SignatureVerdict} from '../signature/verify.js'
import {tagKey} from './pin-images.js'

export async function verifyAuditSignatures(
  input: AuditInput,
  policy: ImagePolicy,
  digests: ReadonlyMap<string, string> | undefined,
  connection: RegistryConnection,
  fromFile: DockerCredential[],
  notices: string[],
): Promise<Map<string, SignatureVerdict>> {
  const {verifyImageSignature} = await import('../signature/verify.js')
  const credentialsOf = new Map(input.workloads.map((unit) => [unit.workload, unit.credentials ?? []]))
  // One verification per image and digest, shared by every container that runs it.
  const jobs = new Map<string, {run: () => Promise<SignatureVerdict | undefined>; targets: Set<string>}>()
  const unpinned = new Set<string>()
  for (const instance of input.instances) {
    if (!instance.image) continue
    let reference: ImageReference
    try {
      reference = parseImageReference(instance.image)
    } catch {
      continue
    }
    const requirement = signatureRequirementFor(policy.requireSignature, reference)
    if (!requirement) continue
    const digest = reference.digest ?? instance.runningDigest ?? digests?.get(tagKey(reference))
    if (!digest) {
      unpinned.add(instance.image)
      continue
    }
    const key = `${reference.registry}/${reference.repository}@${digest}`
    const credentials = [...(credentialsOf.get(instance.workload) ?? []), ...fromFile]
    const job = jobs.get(key) ?? {
      targets: new Set<string>(),
      run: async () => {
        try {
          return await verifyImageSignature(
            {registry: reference.registry, repository: reference.repository, digest},
            requirement,
            {connection, credentials: credentialForImage(credentials, reference)},
          )
        } catch (error) {
          notices.push(`cannot verify the signature of ${key}: ${safeErrorMessage(error)}`)
          return undefined
        }
      },
    }
    job.targets.add(scanTargetOf(instance))
    jobs.set(key, job)
  }
  for (const image of unpinned)
    notices.push(`cannot verify the signature of ${image}: its tag could not be resolved to a digest`)
  const limit = limitConcurrency(4)
  const verdicts = new Map<string, SignatureVerdict>()
  await Promise.all(
    [...jobs.values()].map((job) =>
      limit(async () => {
        const verdict = await job.run()
        if (verdict) for (const target of job.targets) verdicts.set(target, verdict)
      }),
    ),
  )
  return verdicts
}

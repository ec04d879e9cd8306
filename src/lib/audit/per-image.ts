// What the registries say about each distinct image of a run (--resolve-digests, --scan,
// --inspect, --verify-signatures): asked once per image, before the checks that read it.
import type {AuditInput} from './audit.js'
import type {ContainerTarget, InspectedImages, RunContext} from './checks/types.js'
import type {ApiReader} from '../cluster/api-reader.js'
import {type DockerCredential, dockerConfigFileCredentials} from '../image/docker-config.js'
import type {ImageFacts} from '../image/image-facts.js'
import {resolveDigests} from './pin-images.js'
import type {ImagePolicy} from '../policy/policy.js'
import type {ImageAuditOptions} from './audit-run.js'
import {scanImages} from './trivy.js'
import type {Workload} from './workloads.js'

/**
 * A container target as the per-image steps read it, under a stand-in workload: its image and
 * container name, not the pod's container (env, probes…), which a first pass does not keep.
 */
export function imageTarget(target: ContainerTarget, standIn: Workload): ContainerTarget {
  return {...target, workload: standIn, container: {name: target.container.name, image: target.container.image}}
}

export interface RegistryAnswers {
  /** --resolve-digests: what each tag points to now. */
  digests?: Map<string, string>
  /** --inspect: the facts of each distinct image read, for the JSON report; `inspected` for the checks. */
  images?: ImageFacts[]
  inspected?: InspectedImages
  /** --scan and --verify-signatures, for the cross-workload checks. */
  run: RunContext
}

/**
 * Ask the registries about the images of `input`. `archives` (-f with --image-archive) answers
 * for the images they hold; `scanning`/`verifying` say whether those checks run at all.
 */
export async function askRegistries(
  input: AuditInput,
  options: ImageAuditOptions,
  policy: ImagePolicy,
  how: {scanning: boolean; verifying: boolean; client?: ApiReader; archives?: ArchiveAnswers},
  notices: string[],
): Promise<RegistryAnswers> {
  // --docker-config, read once for the digests and the signatures.
  const fromFile = options.resolveDigests?.dockerConfig
    ? dockerConfigFileCredentials(options.resolveDigests.dockerConfig)
    : []
  const digests = options.resolveDigests
    ? await resolveCurrentDigests(input, options.resolveDigests, fromFile, notices)
    : undefined
  const archiveOf = how.archives?.archiveOf
  const vulnerabilities =
    options.scan && how.scanning ? await scanImages(input.instances, options.scan, notices, archiveOf) : undefined
  let images = how.archives?.images
  if (!images && options.inspect)
    images = await (await import('./inspect-images.js')).inspectForAudit(input, options.inspect, how.client, notices)
  const signatures = how.verifying
    ? await (
        await import('./signatures.js')
      ).verifyAuditSignatures(input, policy, digests, options.resolveDigests ?? {}, fromFile, notices)
    : undefined
  const inspected = input.workloads.find((unit) => unit.context.inspected)?.context.inspected
  return {digests, images, inspected, run: {vulnerabilities, signatures}}
}

/** What image archives answered (`--image-archive`): the facts, and which archive holds each image. */
export interface ArchiveAnswers {
  images: ImageFacts[]
  archiveOf: Map<string, string>
}

/** `--resolve-digests`: what each tag points to now, asked with the pods' pull secrets and `--docker-config` (`fromFile`). */
async function resolveCurrentDigests(
  input: AuditInput,
  resolve: NonNullable<ImageAuditOptions['resolveDigests']>,
  fromFile: DockerCredential[],
  notices: string[],
): Promise<Map<string, string>> {
  const credentialsOf = new Map(input.workloads.map((unit) => [unit.workload, unit.credentials ?? []]))
  const {digests, failures} = await resolveDigests(
    input.instances.map((c) => ({
      image: c.image,
      credentials: [...(credentialsOf.get(c.workload) ?? []), ...fromFile],
    })),
    resolve,
  )
  notices.push(...failures)
  return digests
}

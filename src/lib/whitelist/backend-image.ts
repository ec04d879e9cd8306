import {safeErrorMessage} from '../describe-error.js'
import {UserError} from '../errors.js'
import {parseImageReference} from '../image/image-reference.js'
import {DEFAULT_BACKEND_DIGEST, DEFAULT_BACKEND_SOURCE} from './default-backend-image.js'

/**
 * The backend runs the bundled webhook with `/nodejs/bin/node` (distroless's layout) and needs
 * Node.js ≥ 20. Node.js 22 is an LTS line supported until 2027-04-30; Node.js 20's support ended on
 * 2026-04-30, so it is no longer the default.
 */
export const DEFAULT_BACKEND_IMAGE = `${DEFAULT_BACKEND_SOURCE.registry}/${DEFAULT_BACKEND_SOURCE.repository}:${DEFAULT_BACKEND_SOURCE.tag}`
/** The default, pinned in the source: naming it asks no registry. */
export const PINNED_DEFAULT_BACKEND_IMAGE = `${DEFAULT_BACKEND_IMAGE}@${DEFAULT_BACKEND_DIGEST}`

/**
 * The backend image: the pinned default, an image given by digest as it is, or an image given by
 * tag pinned to the digest its registry gives now (a dry run shows a placeholder and asks nothing).
 */
export async function resolveBackendImage(given: string | undefined, dryRun: boolean): Promise<string> {
  if (!given) return PINNED_DEFAULT_BACKEND_IMAGE
  let reference
  try {
    reference = parseImageReference(given)
  } catch (error) {
    throw new UserError(`--backend-image ${given}: ${safeErrorMessage(error)}`)
  }
  if (reference.digest) return given
  if (dryRun) return `${given}@sha256:<resolved at apply time>`
  const {resolveTagDigest} = await import('../image/registry-client.js')
  const tag = reference.tag ?? 'latest'
  try {
    const digest = await resolveTagDigest(
      {registry: reference.registry, repository: reference.repository, tag},
      {timeoutMs: 15_000},
    )
    return `${given}@${digest}`
  } catch (error) {
    // An air-gapped control plane cannot ask the registry: the image must be named by digest.
    throw new UserError(
      `cannot resolve the digest of --backend-image ${given} (${safeErrorMessage(error)}); without access to ${reference.registry}, name the image by digest: --backend-image ${reference.registry}/${reference.repository}@sha256:… (a copy in a registry the node can pull from, with Node.js ≥ 20 at /nodejs/bin/node)`,
    )
  }
}

/** The control plane must not run a moving tag. */
export function requirePinnedImage(image: string): void {
  if (!parseImageReference(image).digest)
    throw new UserError(
      `--backend-image ${image} must be pinned by digest (…@sha256:…): the control plane must not run a moving tag`,
    )
}

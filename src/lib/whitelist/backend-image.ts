import {UserError} from '../errors.js'
import {parseImageReference} from '../image/image-reference.js'

/**
 * The backend runs the bundled webhook with `/nodejs/bin/node` (distroless's layout) and needs
 * Node.js ≥ 20. Node.js 22 is an LTS line supported until 2027-04-30; Node.js 20's support ended on
 * 2026-04-30, so it is no longer the default.
 */
export const DEFAULT_BACKEND_SOURCE = {registry: 'gcr.io', repository: 'distroless/nodejs22-debian12', tag: 'nonroot'}
export const DEFAULT_BACKEND_IMAGE = `${DEFAULT_BACKEND_SOURCE.registry}/${DEFAULT_BACKEND_SOURCE.repository}:${DEFAULT_BACKEND_SOURCE.tag}`

/**
 * The backend image: the one given, else the default pinned to its current digest (asked from the
 * registry; a dry run shows a placeholder and asks nothing).
 */
export async function resolveBackendImage(given: string | undefined, dryRun: boolean): Promise<string> {
  if (given) return given
  if (dryRun) return `${DEFAULT_BACKEND_IMAGE}@sha256:<resolved at apply time>`
  const {resolveTagDigest} = await import('../image/registry-client.js')
  try {
    const digest = await resolveTagDigest(DEFAULT_BACKEND_SOURCE, {timeoutMs: 15_000})
    return `${DEFAULT_BACKEND_IMAGE}@${digest}`
  } catch (error) {
    // An air-gapped control plane cannot ask gcr.io: the image must come from the user's own mirror.
    throw new UserError(
      `cannot resolve the digest of ${DEFAULT_BACKEND_IMAGE} (${(error as Error).message}); without access to gcr.io, copy it to a registry the node can pull from (e.g. crane copy ${DEFAULT_BACKEND_IMAGE} registry.internal/distroless/nodejs22-debian12:nonroot) and pass --backend-image registry.internal/distroless/nodejs22-debian12@sha256:… (any image with Node.js ≥ 20 at /nodejs/bin/node)`,
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

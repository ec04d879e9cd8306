import {UserError} from '../errors.js'
import {parseImageReference} from '../image/image-reference.js'

export const DEFAULT_BACKEND_IMAGE = 'gcr.io/distroless/nodejs20-debian12:nonroot'

/**
 * The backend image: the one given, else the default pinned to its current digest (asked from the
 * registry; a dry run shows a placeholder and asks nothing).
 */
export async function resolveBackendImage(given: string | undefined, dryRun: boolean): Promise<string> {
  if (given) return given
  if (dryRun) return `${DEFAULT_BACKEND_IMAGE}@sha256:<resolved at apply time>`
  const {resolveTagDigest} = await import('../image/registry-client.js')
  try {
    const digest = await resolveTagDigest({registry: 'gcr.io', repository: 'distroless/nodejs20-debian12', tag: 'nonroot'}, {timeoutMs: 15_000})
    return `${DEFAULT_BACKEND_IMAGE}@${digest}`
  } catch (error) {
    throw new UserError(`cannot resolve the digest of ${DEFAULT_BACKEND_IMAGE} (${(error as Error).message}); pass --backend-image IMAGE@sha256:… (a Node.js 20 image)`)
  }
}

/** The control plane must not run a moving tag. */
export function requirePinnedImage(image: string): void {
  if (!parseImageReference(image).digest) throw new UserError(`--backend-image ${image} must be pinned by digest (…@sha256:…): the control plane must not run a moving tag`)
}

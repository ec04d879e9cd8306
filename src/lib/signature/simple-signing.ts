// The payload cosign signs in its tag scheme: a "simple signing" document (containers/image's
// format) naming the image's repository and manifest digest. A valid signature over it only says
// something about this image when both match: otherwise a signature copied from another image (or
// another repository) would pass.
import {type ImageReference, parseImageReference} from '../image/image-reference.js'

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json'
const COSIGN_PAYLOAD_TYPE = 'cosign container image signature'

export interface SignedImage {
  registry: string
  repository: string
  digest: string
}

/** Why the payload does not describe `image`, or undefined when it does. Pure. */
export function simpleSigningMismatch(payload: Buffer, image: SignedImage): string | undefined {
  let document: {
    critical?: {identity?: {'docker-reference'?: unknown}; image?: Record<string, unknown>; type?: unknown}
  }
  try {
    document = JSON.parse(payload.toString('utf8')) as typeof document
  } catch {
    return 'the signed payload is not JSON'
  }
  const critical = typeof document === 'object' && document !== null ? document.critical : undefined
  if (typeof critical !== 'object' || critical === null || critical.type !== COSIGN_PAYLOAD_TYPE)
    return `the signed payload is not a cosign image signature (critical.type "${COSIGN_PAYLOAD_TYPE}")`
  const digest = critical.image?.['docker-manifest-digest']
  if (typeof digest !== 'string') return 'the signed payload names no image digest'
  if (digest !== image.digest) return `the signature is for another image digest (${digest})`
  const signedReference = critical.identity?.['docker-reference']
  if (typeof signedReference !== 'string') return 'the signed payload names no image reference'
  let signed: ImageReference
  try {
    signed = parseImageReference(signedReference)
  } catch {
    return `the signed payload names an invalid image reference`
  }
  if (signed.registry !== image.registry || signed.repository !== image.repository)
    return `the signature is for another repository (${signed.registry}/${signed.repository})`
  return undefined
}

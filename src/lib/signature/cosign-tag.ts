// Discovery of cosign's tag scheme: the signatures of image sha256:<hex> are the layers of the
// manifest tagged `sha256-<hex>.sig` in the same repository; each layer's blob is the signed
// payload and its `dev.cosignproject.cosign/signature` annotation the base64 signature.
import {fetchBlob, fetchManifest, type RepositoryAccess} from '../image/registry-content.js'

export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature'
/** Keyless (and `cosign sign --certificate`): the signing certificate, PEM. */
export const COSIGN_CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate'

/** A registry could list any number of layers; an image has a handful of signatures. */
const MAX_SIGNATURES = 32

export interface TagSignature {
  payload: Buffer
  signature: Buffer
  /** The layer's digest, to name the signature in reasons. */
  layer: string
  /** The signing certificate (PEM) when the signature carries one. */
  certificate?: string
}

/** The tag cosign stores an image's signatures under. */
export function cosignSignatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`
}

/** The tag-scheme signatures of `digest`; an empty list when there is no signature tag. */
export async function readTagSignatures(
  access: RepositoryAccess,
  digest: string,
): Promise<{signatures: TagSignature[]; problems: string[]}> {
  const manifest = await fetchManifest(access, cosignSignatureTag(digest))
  if (!manifest) return {signatures: [], problems: []}
  const problems: string[] = []
  const layers = manifest.descriptors.slice(0, MAX_SIGNATURES).flatMap((layer) => {
    const encoded = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION]
    if (typeof encoded === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return [{layer, encoded}]
    problems.push(`layer ${layer.digest} of ${cosignSignatureTag(digest)} has no ${COSIGN_SIGNATURE_ANNOTATION}`)
    return []
  })
  const signatures = await Promise.all(
    layers.map(async ({layer, encoded}) => {
      // The certificate chain annotation (dev.sigstore.cosign/chain) is not read: a certificate
      // counts only by chaining to the trusted root's own certificates.
      const certificate = layer.annotations?.[COSIGN_CERTIFICATE_ANNOTATION]
      return {
        payload: await fetchBlob(access, layer.digest),
        signature: Buffer.from(encoded, 'base64'),
        layer: layer.digest,
        ...(typeof certificate === 'string' ? {certificate} : {}),
      }
    }),
  )
  return {signatures, problems}
}

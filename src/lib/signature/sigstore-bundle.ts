// Sigstore bundles attached to an image (`cosign sign --new-bundle-format`): OCI artifacts whose
// subject is the image, found through the OCI 1.1 referrers API or, on registries without it
// (distribution 2.x), the referrers tag schema's `sha256-<hex>` index. Each bundle holds a DSSE
// envelope over an in-toto statement whose subject is the image's digest; @sigstore/bundle parses
// it and @sigstore/verify checks the signature: by a trusted key, or by a certificate (keyless).
import {bundleFromJSON} from '@sigstore/bundle'
import {toSignedEntity} from '@sigstore/verify'

import {fetchBlob, fetchManifest, fetchReferrers, type RepositoryAccess} from '../image/registry-content.js'
import {type KeylessSigner, verifyKeyless} from './keyless.js'
import {verifiesWithKey} from './key-verify.js'
import type {SignatureTrust} from './verify.js'

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json'
const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1'
const IN_TOTO_PAYLOAD = 'application/vnd.in-toto+json'
const MAX_REFERRERS = 32

export interface FoundBundle {
  /** The referrer manifest's digest, to name it in reasons. */
  manifest: string
  json: unknown
}

/** The bundles attached to `digest`, and how they were found. */
export async function readBundles(
  access: RepositoryAccess,
  digest: string,
): Promise<{bundles: FoundBundle[]; source: 'referrers' | 'referrers-tag'}> {
  let source: 'referrers' | 'referrers-tag' = 'referrers'
  let referrers = await fetchReferrers(access, digest)
  if (referrers === undefined) {
    source = 'referrers-tag'
    referrers = (await fetchManifest(access, digest.replace(':', '-')))?.descriptors ?? []
  }
  // Index entries do not always carry the artifact type (go-containerregistry's tag fallback names
  // the config's media type): each manifest is read and judged by its own artifactType and layers.
  const manifests = await Promise.all(
    referrers.slice(0, MAX_REFERRERS).map((descriptor) => fetchManifest(access, descriptor.digest)),
  )
  const layers = manifests.flatMap((manifest) => {
    const layer = manifest?.descriptors.find((candidate) => candidate.mediaType === BUNDLE_MEDIA_TYPE)
    return manifest && layer ? [{manifest: manifest.digest, layer: layer.digest}] : []
  })
  const bundles = await Promise.all(
    layers.map(async ({manifest, layer}) => {
      const bytes = await fetchBlob(access, layer)
      let json: unknown
      try {
        json = JSON.parse(bytes.toString('utf8'))
      } catch {
        json = undefined
      }
      return {manifest, json}
    }),
  )
  return {bundles, source}
}

/** Why the statement a bundle signs is not about `digest`, or undefined when it is. Pure. */
export function statementMismatch(payloadType: string, payload: Buffer, digest: string): string | undefined {
  if (payloadType !== IN_TOTO_PAYLOAD) return `the bundle signs a ${payloadType} payload, not an in-toto statement`
  let statement: {predicateType?: unknown; subject?: Array<{digest?: Record<string, unknown>}>}
  try {
    statement = JSON.parse(payload.toString('utf8')) as typeof statement
  } catch {
    return 'the signed statement is not JSON'
  }
  if (statement?.predicateType !== COSIGN_SIGN_PREDICATE)
    return `the bundle is not a cosign signature (predicateType ${COSIGN_SIGN_PREDICATE})`
  const hex = digest.slice('sha256:'.length)
  const subjects = Array.isArray(statement.subject) ? statement.subject : []
  if (subjects.some((subject) => subject?.digest?.sha256 === hex)) return undefined
  const other = subjects.find((subject) => typeof subject?.digest?.sha256 === 'string')?.digest?.sha256
  return other ? `the signature is for another image digest (sha256:${String(other)})` : 'the statement names no digest'
}

/** The signing certificate's DER of a bundle with x509 verification material. */
function bundleCertificate(bundle: ReturnType<typeof bundleFromJSON>): Buffer | undefined {
  const material = bundle.verificationMaterial.content
  if (material.$case === 'certificate') return Buffer.from(material.certificate.rawBytes)
  if (material.$case === 'x509CertificateChain')
    return Buffer.from(material.x509CertificateChain.certificates[0].rawBytes)
  return undefined
}

/** Judge one bundle against the trusted keys and keyless identities: who signed it, or why nobody trusted did. */
export function judgeBundle(
  json: unknown,
  digest: string,
  trust: SignatureTrust,
  now?: Date,
): {by: {key: string} | KeylessSigner; reason?: undefined} | {by?: undefined; reason: string} {
  let bundle: ReturnType<typeof bundleFromJSON>
  try {
    bundle = bundleFromJSON(json)
  } catch {
    return {reason: 'is not a Sigstore bundle'}
  }
  if (bundle.content.$case !== 'dsseEnvelope') return {reason: 'holds no DSSE envelope (not an image signature)'}
  const entity = toSignedEntity(bundle)
  let by: {key: string} | KeylessSigner
  const certificate = bundleCertificate(bundle)
  if (certificate === undefined) {
    // The bundle's key hint is the signer's own label: every trusted key is tried.
    const key = trust.keys.find((candidate) => verifiesWithKey(entity, candidate.publicKey))
    if (!key) {
      if (trust.keys.length === 0)
        return {reason: 'is signed with a key, and the policy trusts only keyless identities'}
      return {reason: `is not by a trusted key (tried ${trust.keys.map((candidate) => candidate.name).join(', ')})`}
    }
    by = {key: key.name}
  } else {
    if (!trust.keyless) return {reason: 'is signed with a certificate (keyless), which trusted keys do not verify'}
    const signer = verifyKeyless(entity, certificate, trust.keyless, now)
    if ('reason' in signer) return {reason: signer.reason}
    by = signer
  }
  const envelope = bundle.content.dsseEnvelope
  const mismatch = statementMismatch(envelope.payloadType, Buffer.from(envelope.payload), digest)
  const name = 'key' in by ? by.key : by.identity
  return mismatch ? {reason: `by ${name}: ${mismatch}`} : {by}
}

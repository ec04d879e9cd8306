// Does an image (by digest) carry a signature by one of the trusted keys over a payload naming
// that very digest and repository? The cryptography is Sigstore's (@sigstore/verify's Verifier
// over a message-signature bundle built by @sigstore/bundle); this module only finds the
// signatures and decides what they say.
import {toMessageSignatureBundle} from '@sigstore/bundle'
import {crypto as sigstoreCrypto} from '@sigstore/core'
import {toSignedEntity} from '@sigstore/verify'

import type {RepositoryAccess} from '../image/registry-content.js'
import {readTagSignatures} from './cosign-tag.js'
import {judgeBundle, readBundles} from './sigstore-bundle.js'
import {type SignedImage, simpleSigningMismatch} from './simple-signing.js'
import {type TrustedKey, verifiesWithKey} from './trusted-keys.js'

export type SignatureStatus = 'verified' | 'missing' | 'invalid'

export interface SignatureVerdict {
  /** `registry/repository@sha256:…` */
  image: string
  status: SignatureStatus
  /** verified: the trusted key that verified the signature. */
  key?: string
  /**
   * Where the signature was found: cosign's `sha256-<hex>.sig` tag, or a Sigstore bundle among the
   * image's referrers (the OCI 1.1 API, or its `sha256-<hex>` tag fallback).
   */
  source?: 'tag' | 'referrers' | 'referrers-tag'
  /** Not verified: one line per signature found (which key, which reason). */
  reasons: string[]
}

/** True when `signature` over `payload` verifies with `key`. */
export function signatureVerifies(payload: Buffer, signature: Buffer, key: TrustedKey): boolean {
  // Ed25519 signs the message itself, not a SHA-256 digest of it, which is all a Sigstore
  // message-signature bundle can carry: checked with Sigstore's core primitive instead.
  if (key.type === 'ed25519') return sigstoreCrypto.verify(payload, key.publicKey, signature)
  const bundle = toMessageSignatureBundle({
    digest: sigstoreCrypto.digest('sha256', payload),
    signature,
    keyHint: key.hint,
  })
  return verifiesWithKey(toSignedEntity(bundle, payload), key.publicKey, key.hint)
}

/** Judge signatures found for `image` against the trusted keys. Pure. */
export function judgeSignatures(
  image: SignedImage,
  signatures: Array<{payload: Buffer; signature: Buffer; layer: string}>,
  keys: readonly TrustedKey[],
  problems: readonly string[] = [],
): Omit<SignatureVerdict, 'image'> {
  if (signatures.length === 0 && problems.length === 0) return {status: 'missing', reasons: []}
  const reasons = [...problems]
  const tried = keys.map((key) => key.name).join(', ')
  for (const {payload, signature, layer} of signatures) {
    const key = keys.find((candidate) => signatureVerifies(payload, signature, candidate))
    const which = `signature ${layer.slice(0, 'sha256:'.length + 12)}`
    if (!key) {
      reasons.push(`${which} is not by a trusted key (tried ${tried})`)
      continue
    }
    const mismatch = simpleSigningMismatch(payload, image)
    if (mismatch) reasons.push(`${which} by ${key.name}: ${mismatch}`)
    else return {status: 'verified', key: key.name, source: 'tag', reasons: []}
  }
  return {status: 'invalid', reasons}
}

/**
 * Verify `image` (pinned by digest) against the trusted keys. Registry failures are thrown
 * (UserError): the caller decides whether an image that could not be checked is refused.
 */
export async function verifyImageSignature(
  image: SignedImage,
  keys: readonly TrustedKey[],
  access: Omit<RepositoryAccess, 'registry' | 'repository'>,
): Promise<SignatureVerdict> {
  const repository = {...access, registry: image.registry, repository: image.repository}
  const name = `${image.registry}/${image.repository}@${image.digest}`
  const {signatures, problems} = await readTagSignatures(repository, image.digest)
  const verdict = judgeSignatures(image, signatures, keys, problems)
  if (verdict.status === 'verified') return {image: name, ...verdict}
  const {bundles, source} = await readBundles(repository, image.digest)
  const reasons = [...verdict.reasons]
  for (const bundle of bundles) {
    const judged = judgeBundle(bundle.json, image.digest, keys)
    if (judged.reason === undefined) return {image: name, status: 'verified', key: judged.key, source, reasons: []}
    reasons.push(`bundle ${bundle.manifest.slice(0, 'sha256:'.length + 12)} ${judged.reason}`)
  }
  return {image: name, status: reasons.length === 0 ? 'missing' : 'invalid', reasons}
}

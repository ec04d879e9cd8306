// Does an image (by digest) carry a signature by one of the trusted keys, or by a certificate of a
// trusted keyless identity, over a payload naming that very digest and repository? The
// cryptography is Sigstore's (@sigstore/verify's Verifier over a message-signature bundle built by
// @sigstore/bundle); this module only finds the signatures and decides what they say.
import {X509Certificate} from 'node:crypto'

import {toMessageSignatureBundle} from '@sigstore/bundle'
import {crypto as sigstoreCrypto} from '@sigstore/core'
import {toSignedEntity} from '@sigstore/verify'

import type {RepositoryAccess} from '../image/registry-content.js'
import {COSIGN_CERTIFICATE_ANNOTATION, readTagSignatures, type TagSignature} from './cosign-tag.js'
import {type KeylessSigner, type KeylessTrust, verifyKeyless} from './keyless.js'
import {judgeBundle, readBundles} from './sigstore-bundle.js'
import {type SignedImage, simpleSigningMismatch} from './simple-signing.js'
import {verifiesWithKey} from './key-verify.js'
import type {TrustedKey} from './trusted-keys.js'

/** What a signature may be by: trusted keys, keyless identities of a trusted root, or both. */
export interface SignatureTrust {
  keys: readonly TrustedKey[]
  keyless?: KeylessTrust
}

export type SignatureStatus = 'verified' | 'missing' | 'invalid'

export interface SignatureVerdict {
  /** `registry/repository@sha256:…` */
  image: string
  status: SignatureStatus
  /** verified: the trusted key that verified the signature. */
  key?: string
  /** verified keyless: the certificate's subject and OIDC issuer that matched an identity. */
  identity?: string
  issuer?: string
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

/** The keyless signer of a tag-scheme signature with a certificate, or why it does not count. */
function keylessTagSigner(
  signature: TagSignature,
  keyless: KeylessTrust,
  now?: Date,
): KeylessSigner | {reason: string} {
  let der: Buffer
  try {
    der = new X509Certificate(signature.certificate!).raw
  } catch {
    return {reason: 'has a certificate that is not a readable PEM certificate'}
  }
  const bundle = toMessageSignatureBundle({
    digest: sigstoreCrypto.digest('sha256', signature.payload),
    signature: signature.signature,
    certificate: der,
  })
  return verifyKeyless(toSignedEntity(bundle, signature.payload), der, keyless, now)
}

/** Who signed one signature (a key name or a keyless signer), or why nobody trusted did. */
function signerOf(
  signature: TagSignature,
  trust: SignatureTrust,
  now?: Date,
): {key: string} | {signer: KeylessSigner} | {reason: string} {
  const key = trust.keys.find((candidate) => signatureVerifies(signature.payload, signature.signature, candidate))
  if (key) return {key: key.name}
  const notByKey = `is not by a trusted key (tried ${trust.keys.map((candidate) => candidate.name).join(', ')})`
  if (!trust.keyless) return {reason: notByKey}
  const byKey = trust.keys.length > 0 ? `${notByKey}, and ` : ''
  if (signature.certificate === undefined)
    return {reason: `${byKey}has no certificate (a keyless signature carries ${COSIGN_CERTIFICATE_ANNOTATION})`}
  const keyless = keylessTagSigner(signature, trust.keyless, now)
  return 'reason' in keyless ? {reason: `${byKey}${keyless.reason}`} : {signer: keyless}
}

/** Judge signatures found for `image` against the trusted keys and keyless identities. */
export function judgeSignatures(
  image: SignedImage,
  signatures: TagSignature[],
  trust: SignatureTrust,
  problems: readonly string[] = [],
  now?: Date,
): Omit<SignatureVerdict, 'image'> {
  if (signatures.length === 0 && problems.length === 0) return {status: 'missing', reasons: []}
  const reasons = [...problems]
  for (const signature of signatures) {
    const which = `signature ${signature.layer.slice(0, 'sha256:'.length + 12)}`
    const judged = signerOf(signature, trust, now)
    if ('reason' in judged) {
      reasons.push(`${which} ${judged.reason}`)
      continue
    }
    const by = 'key' in judged ? judged.key : judged.signer.identity
    const mismatch = simpleSigningMismatch(signature.payload, image)
    if (mismatch) reasons.push(`${which} by ${by}: ${mismatch}`)
    else if ('key' in judged) return {status: 'verified', key: judged.key, source: 'tag', reasons: []}
    else return {status: 'verified', ...judged.signer, source: 'tag', reasons: []}
  }
  return {status: 'invalid', reasons}
}

/**
 * Verify `image` (pinned by digest) against the trusted keys and keyless identities. Registry
 * failures are thrown (UserError): the caller decides whether an image that could not be checked
 * is refused.
 */
export async function verifyImageSignature(
  image: SignedImage,
  trust: SignatureTrust,
  access: Omit<RepositoryAccess, 'registry' | 'repository'>,
): Promise<SignatureVerdict> {
  const repository = {...access, registry: image.registry, repository: image.repository}
  const name = `${image.registry}/${image.repository}@${image.digest}`
  const {signatures, problems} = await readTagSignatures(repository, image.digest)
  const verdict = judgeSignatures(image, signatures, trust, problems)
  if (verdict.status === 'verified') return {image: name, ...verdict}
  const {bundles, source} = await readBundles(repository, image.digest)
  const reasons = [...verdict.reasons]
  for (const bundle of bundles) {
    const judged = judgeBundle(bundle.json, image.digest, trust)
    if (judged.reason === undefined) return {image: name, status: 'verified', ...judged.by, source, reasons: []}
    reasons.push(`bundle ${bundle.manifest.slice(0, 'sha256:'.length + 12)} ${judged.reason}`)
  }
  return {image: name, status: reasons.length === 0 ? 'missing' : 'invalid', reasons}
}

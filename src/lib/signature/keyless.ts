// Keyless signatures: signed with a short-lived key whose certificate (from Fulcio, or a private
// CA) names who signed — an email or URI subject alternative name — and which OIDC issuer vouched
// for it (Fulcio's extension 1.3.6.1.4.1.57264.1.8, or the legacy .1.1). A signature counts when
// @sigstore/verify chains the certificate to a CA of the trusted root, the signature verifies with
// the certificate's key, and the certificate's subject and issuer match one of the identities
// (named as sigstore policy-controller's ClusterImagePolicy and cosign's verify flags do).
import 'reflect-metadata'
import {webcrypto} from 'node:crypto'

import * as x509 from '@peculiar/x509'
import {TrustedRoot} from '@sigstore/protobuf-specs'
import {toTrustMaterial, type TrustMaterial, Verifier, type toSignedEntity} from '@sigstore/verify'

import {describeIdentity, type KeylessTrust, matchIdentity} from './identity.js'
import type {TrustedRootFile} from './trusted-root.js'

export {
  type CertificateIdentity,
  describeIdentity,
  identityProblem,
  type KeylessTrust,
  matchIdentity,
} from './identity.js'

x509.cryptoProvider.set(webcrypto as never)

export interface KeylessSigner {
  /** The certificate's subject alternative name that matched. */
  identity: string
  issuer: string
}

type SignedEntity = ReturnType<typeof toSignedEntity>

const materials = new WeakMap<TrustedRootFile, TrustMaterial>()

function noKeys(): never {
  // Keyless verification has no public keys: a bundle naming a key hint is not keyless.
  throw new Error('a trusted root holds no public keys')
}

/**
 * The root as @sigstore/verify takes it, made on first use (reading a policy checks the root's
 * certificates and keys with node's own parsers, and does not load these libraries).
 */
export function trustMaterial(root: TrustedRootFile): TrustMaterial {
  let material = materials.get(root)
  if (!material) {
    material = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(root.text)), noKeys)
    materials.set(root, material)
  }
  return material
}

/** The certificate's subject alternative names (email, URI, DNS, IP) and whether it may sign code. */
function describeLeaf(der: Buffer): {subjects: string[]; codeSigning: boolean; notBefore: Date; notAfter: Date} {
  const cert = new x509.X509Certificate(der)
  const names = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []
  const usages = cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []
  return {
    subjects: names.filter((name) => ['email', 'url', 'dns', 'ip'].includes(name.type)).map((name) => name.value),
    codeSigning: usages.includes(x509.ExtendedKeyUsage.codeSigning),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  }
}

/**
 * The entity as @sigstore/verify should judge it offline. The verifier checks the certificate
 * chain once per verified timestamp (a transparency log entry's promise, an RFC 3161 timestamp):
 * with none it would skip the chain altogether. A signature without either — cosign sign
 * --tlog-upload=false — is judged at `now`: the certificate must chain and be valid now.
 */
function atVerificationTime(entity: SignedEntity, now: Date): SignedEntity {
  if (entity.timestamps.length > 0) return entity
  const observed = {
    $case: 'transparency-log' as const,
    tlogEntry: {
      logIndex: '0',
      logId: {keyId: Buffer.alloc(0)},
      integratedTime: String(Math.floor(now.getTime() / 1000)),
      inclusionPromise: {signedEntryTimestamp: Buffer.alloc(0)},
    },
  }
  return {...entity, timestamps: [observed as unknown as SignedEntity['timestamps'][number]]}
}

/** Why the library refused: its message, with the cause it wraps (never input bytes). */
function libraryReason(error: unknown): string {
  const top = error instanceof Error ? error.message : 'verification failed'
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ''
  return `${top}${cause}`
}

/**
 * Judge a keyless signature: the identity that signed it, or why it does not count. `certificate`
 * is the signing certificate's DER (the entity's key). The reasons name what the certificate
 * says and what the policy wanted; neither is a secret.
 */
export function verifyKeyless(
  entity: SignedEntity,
  certificate: Buffer,
  trust: KeylessTrust,
  now = new Date(),
): KeylessSigner | {reason: string} {
  let leaf: ReturnType<typeof describeLeaf>
  try {
    leaf = describeLeaf(certificate)
  } catch {
    return {reason: 'has a certificate that is not a readable X.509 certificate'}
  }
  let material: TrustMaterial
  try {
    material = trustMaterial(trust.root)
  } catch {
    return {reason: `cannot be checked: ${trust.root.name} is not a readable Sigstore trusted root`}
  }
  let issuer: string | undefined
  try {
    const verifier = new Verifier(material, {tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0})
    issuer = verifier.verify(atVerificationTime(entity, now)).identity?.extensions?.issuer
  } catch (error) {
    const reason = libraryReason(error)
    if (/expired|not valid/i.test(reason))
      return {
        reason: `has a certificate not valid at ${now.toISOString()} (valid ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()}; without a transparency log entry or signed timestamp it must be valid now)`,
      }
    if (/certificate/i.test(reason) && !/SCT/.test(reason))
      return {
        reason: `has a certificate that does not chain to a certificate authority of ${trust.root.name} (${reason})`,
      }
    return {reason: `does not verify with its certificate (${reason})`}
  }
  if (!leaf.codeSigning)
    return {reason: 'has a certificate not meant for code signing (no codeSigning extended key usage)'}
  for (const identity of trust.identities) {
    const subject = matchIdentity(identity, leaf.subjects, issuer)
    if (subject !== undefined) return {identity: subject, issuer: issuer!}
  }
  const found = `${leaf.subjects.join(', ') || 'no subject alternative name'} (issuer ${issuer ?? 'none: no OIDC issuer extension'})`
  return {
    reason: `has a certificate for ${found}, which matches none of: ${trust.identities.map(describeIdentity).join('; ')}`,
  }
}

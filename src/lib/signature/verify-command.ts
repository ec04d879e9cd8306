// `kubectl imgsec verify IMAGE --key cosign.pub`, or keyless with `--certificate-identity[-regexp]
// --certificate-oidc-issuer[-regexp] --trusted-root` (cosign's flags): one image, its tag resolved
// to a digest first (as cosign does), judged by verifyImageSignature.
import {UserError} from '../errors.js'
import {credentialForImage, dockerConfigFileCredentials} from '../image/docker-config.js'
import {type ImageReference, parseImageReference} from '../image/image-reference.js'
import type {RegistryConnection} from '../image/registry-client.js'
import {readTrustedKey} from './trusted-keys.js'
import {cosignSignatureTag} from './cosign-tag.js'
import {type CertificateIdentity, identityProblem, type KeylessTrust} from './identity.js'
import {readTrustedRoot} from './trusted-root.js'
import {type SignatureVerdict, verifyImageSignature} from './verify.js'

export interface KeylessFlags {
  certificateIdentity?: string
  certificateIdentityRegexp?: string
  certificateOidcIssuer?: string
  certificateOidcIssuerRegexp?: string
  trustedRoot?: string
}

export interface VerifyOptions {
  image: string
  keyFiles: string[]
  keyless?: KeylessFlags
  dockerConfig?: string
  connection: RegistryConnection
}

export interface VerifyResult extends SignatureVerdict {
  /** The tag the digest was resolved from, when the image was not pinned. */
  resolvedFrom?: string
}

const KEYLESS_REQUIRED =
  '--key (the trusted public key, cosign.pub) or keyless: --certificate-identity[-regexp], --certificate-oidc-issuer[-regexp] and --trusted-root'

/** The keyless trust the flags ask for, or undefined without keyless flags; a user error when incomplete. */
export function keylessFromFlags(flags: KeylessFlags): KeylessTrust | undefined {
  if (Object.values(flags).every((value) => value === undefined)) return undefined
  const identity: CertificateIdentity = {
    subject: flags.certificateIdentity,
    subjectRegExp: flags.certificateIdentityRegexp,
    issuer: flags.certificateOidcIssuer,
    issuerRegExp: flags.certificateOidcIssuerRegexp,
  }
  const problem = identityProblem(identity)
  if (problem) {
    const flag = (name: string) =>
      ({
        subject: '--certificate-identity',
        subjectRegExp: '--certificate-identity-regexp',
        issuer: '--certificate-oidc-issuer',
        issuerRegExp: '--certificate-oidc-issuer-regexp',
      })[name] ?? name
    throw new UserError(
      `keyless verification: ${problem.replace(/\b(subjectRegExp|issuerRegExp|subject|issuer)\b/g, flag)}`,
    )
  }
  if (flags.trustedRoot === undefined)
    throw new UserError(
      "keyless verification needs --trusted-root: Sigstore's trusted_root.json with the CA that issued the certificates (public Sigstore's, or your own), given offline",
    )
  return {root: readTrustedRoot(flags.trustedRoot), identities: [identity]}
}

/** Refuse what needs no registry: no key, a bad reference, unreadable keys or docker config. */
export function completeVerify(options: VerifyOptions) {
  const keyless = keylessFromFlags(options.keyless ?? {})
  if (options.keyFiles.length === 0 && !keyless) throw new UserError(`${KEYLESS_REQUIRED} is required`)
  let reference: ImageReference
  try {
    reference = parseImageReference(options.image)
  } catch (error) {
    throw new UserError(`IMAGE "${options.image}": ${(error as {reason?: string}).reason ?? 'invalid reference'}`)
  }
  const keys = options.keyFiles.map((file) => readTrustedKey(file))
  const credentials = options.dockerConfig ? dockerConfigFileCredentials(options.dockerConfig) : []
  return {
    reference,
    trust: {keys, ...(keyless ? {keyless} : {})},
    credential: credentialForImage(credentials, reference),
  }
}

export async function verifyImage(options: VerifyOptions): Promise<VerifyResult> {
  const {reference, trust, credential} = completeVerify(options)
  const access = {connection: options.connection, credentials: credential}
  let digest = reference.digest
  let resolvedFrom: string | undefined
  if (!digest) {
    const {resolveTagDigest} = await import('../image/registry-client.js')
    resolvedFrom = reference.tag ?? 'latest'
    digest = await resolveTagDigest({...reference, tag: resolvedFrom}, options.connection, credential)
  }
  if (!digest.startsWith('sha256:'))
    throw new UserError(`IMAGE "${options.image}": only sha256 digests can be verified (cosign signs sha256)`)
  const verdict = await verifyImageSignature(
    {registry: reference.registry, repository: reference.repository, digest},
    trust,
    access,
  )
  return resolvedFrom ? {...verdict, resolvedFrom} : verdict
}

/** The one line a person reads. */
export function describeVerdict(result: VerifyResult): string {
  const resolved = result.resolvedFrom ? ` (tag ${result.resolvedFrom})` : ''
  if (result.status === 'verified' && result.identity !== undefined)
    return `verified: ${result.image}${resolved} is signed by ${result.identity} (issuer ${result.issuer})`
  if (result.status === 'verified') return `verified: ${result.image}${resolved} is signed by ${result.key}`
  if (result.status === 'missing') {
    const tag = cosignSignatureTag(result.image.slice(result.image.lastIndexOf('@') + 1))
    return `NOT VERIFIED: ${result.image}${resolved} has no signature (no ${tag} tag, no Sigstore bundle among its referrers)`
  }
  return `NOT VERIFIED: ${result.image}${resolved}: ${result.reasons.join('; ')}`
}

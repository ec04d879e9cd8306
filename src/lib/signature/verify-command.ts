// `kubectl imgsec verify IMAGE --key cosign.pub`: one image, its tag resolved to a digest first
// (as cosign does), judged by verifyImageSignature.
import {UserError} from '../errors.js'
import {credentialForImage, dockerConfigFileCredentials} from '../image/docker-config.js'
import {type ImageReference, parseImageReference} from '../image/image-reference.js'
import type {RegistryConnection} from '../image/registry-client.js'
import {readTrustedKey} from './trusted-keys.js'
import {cosignSignatureTag} from './cosign-tag.js'
import {type SignatureVerdict, verifyImageSignature} from './verify.js'

export interface VerifyOptions {
  image: string
  keyFiles: string[]
  dockerConfig?: string
  connection: RegistryConnection
}

export interface VerifyResult extends SignatureVerdict {
  /** The tag the digest was resolved from, when the image was not pinned. */
  resolvedFrom?: string
}

/** Refuse what needs no registry: no key, a bad reference, unreadable keys or docker config. */
export function completeVerify(options: VerifyOptions) {
  if (options.keyFiles.length === 0)
    throw new UserError('--key is required: the trusted public key (cosign.pub), repeatable')
  let reference: ImageReference
  try {
    reference = parseImageReference(options.image)
  } catch (error) {
    throw new UserError(`IMAGE "${options.image}": ${(error as {reason?: string}).reason ?? 'invalid reference'}`)
  }
  const keys = options.keyFiles.map((file) => readTrustedKey(file))
  const credentials = options.dockerConfig ? dockerConfigFileCredentials(options.dockerConfig) : []
  return {reference, keys, credential: credentialForImage(credentials, reference)}
}

export async function verifyImage(options: VerifyOptions): Promise<VerifyResult> {
  const {reference, keys, credential} = completeVerify(options)
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
    keys,
    access,
  )
  return resolvedFrom ? {...verdict, resolvedFrom} : verdict
}

/** The one line a person reads. */
export function describeVerdict(result: VerifyResult): string {
  const resolved = result.resolvedFrom ? ` (tag ${result.resolvedFrom})` : ''
  if (result.status === 'verified') return `verified: ${result.image}${resolved} is signed by ${result.key}`
  if (result.status === 'missing') {
    const tag = cosignSignatureTag(result.image.slice(result.image.lastIndexOf('@') + 1))
    return `NOT VERIFIED: ${result.image}${resolved} has no signature (no ${tag} tag, no Sigstore bundle among its referrers)`
  }
  return `NOT VERIFIED: ${result.image}${resolved}: ${result.reasons.join('; ')}`
}

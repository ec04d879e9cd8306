// Sigstore's trusted root (`trusted_root.json`: the protobuf-specs TrustedRoot as JSON, what
// `cosign trusted-root create` writes and Sigstore's TUF repository serves), read from a file:
// the certificate authorities keyless certificates must chain to, and the transparency logs,
// certificate logs and timestamp authorities that vouch for signing times. Given offline: these
// clusters cannot reach public Sigstore. A root with only certificate authorities is enough.
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {TrustedRoot} from '@sigstore/protobuf-specs'
import {toTrustMaterial, type TrustMaterial} from '@sigstore/verify'

import {describeJsonSyntax, unreadableFile} from '../describe-error.js'
import {UserError} from '../errors.js'

/** Public Sigstore's root is about 10 KiB; a private one with a few CAs is smaller. */
const MAX_TRUSTED_ROOT_BYTES = 1024 * 1024

export interface TrustedRootFile {
  /** How the user named it (the path given). */
  name: string
  material: TrustMaterial
  /** sha256 of the file: names this root in caches and in the copy the static backend reads. */
  fingerprint: string
  /** The JSON as given (public certificates and keys, no secret): copied for the static backend. */
  text: string
}

function noKeys(): never {
  // Keyless verification has no public keys: a bundle naming a key hint is not keyless.
  throw new Error('a trusted root holds no public keys')
}

/** A trusted root from its JSON text. `where` names it in errors; its content never appears. */
export function parseTrustedRoot(text: string, name: string, where: string): TrustedRootFile {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new UserError(`${where} is not JSON (${describeJsonSyntax(text)}); give Sigstore's trusted_root.json`)
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new UserError(`${where} is not a Sigstore trusted root (a JSON object with certificateAuthorities)`)
  let material: TrustMaterial
  try {
    const root = TrustedRoot.fromJSON(json)
    material = toTrustMaterial(root, noKeys)
  } catch {
    throw new UserError(`${where} is not a readable Sigstore trusted root (certificateAuthorities, tlogs, ctlogs)`)
  }
  if (material.certificateAuthorities.length === 0)
    throw new UserError(
      `${where} has no certificateAuthorities: keyless certificates need the CA (Fulcio's, or your own) that issued them`,
    )
  return {name, material, fingerprint: createHash('sha256').update(text).digest('hex'), text}
}

/** A trusted root from a file (`--trusted-root`, or a policy's `keyless.trustedRoot`). */
export function readTrustedRoot(file: string, what = '--trusted-root'): TrustedRootFile {
  let text: string
  try {
    const bytes = readFileSync(file)
    if (bytes.length > MAX_TRUSTED_ROOT_BYTES)
      throw new UserError(`${what} "${file}" is ${bytes.length} bytes, too large for a trusted root`)
    text = bytes.toString('utf8')
  } catch (error) {
    if (error instanceof UserError) throw error
    throw new UserError(unreadableFile(what, `"${file}"`, error))
  }
  return parseTrustedRoot(text, file, `${what} "${file}"`)
}

// Sigstore's trusted root (`trusted_root.json`: the protobuf-specs TrustedRoot as JSON, what
// `cosign trusted-root create` writes and Sigstore's TUF repository serves), read from a file:
// the certificate authorities keyless certificates must chain to, and the transparency logs,
// certificate logs and timestamp authorities that vouch for signing times. Given offline: these
// clusters cannot reach public Sigstore. A root with only certificate authorities is enough.
//
// Reading one checks every certificate and key in it with node's own parsers; the Sigstore
// libraries that verify with it (keyless.ts) are loaded only when a signature is verified.
import {createHash, createPublicKey, X509Certificate} from 'node:crypto'

import {describeJsonSyntax} from '../describe-error.js'
import {UserError} from '../errors.js'
import {readTrustFile} from './trusted-keys.js'

/** Public Sigstore's root is about 10 KiB; a private one with a few CAs is smaller. */
const MAX_TRUSTED_ROOT_BYTES = 1024 * 1024

export interface TrustedRootFile {
  /** How the user named it (the path given). */
  name: string
  /** sha256 of the file: names this root in caches and in the copy the static backend reads. */
  fingerprint: string
  /** The JSON as given (public certificates and keys, no secret): copied for the static backend. */
  text: string
}

type Json = Record<string, unknown>

const isObject = (value: unknown): value is Json => !!value && typeof value === 'object' && !Array.isArray(value)

/** The entries of an optional list field (throws when it is there and not a list of objects). */
function entries(root: Json, field: string): Json[] {
  const value = root[field]
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every(isObject)) throw new Error(`${field} is not a list of objects`)
  return value
}

function bytes(value: unknown): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new Error('rawBytes is not base64')
  return Buffer.from(value, 'base64')
}

function checkValidity(entry: Json): void {
  const validFor = entry.validFor
  if (validFor === undefined) return
  if (!isObject(validFor)) throw new Error('validFor is not an object')
  for (const end of ['start', 'end'])
    if (validFor[end] !== undefined && Number.isNaN(Date.parse(String(validFor[end])))) throw new Error('bad date')
}

/** A certificate authority or timestamp authority: a chain of X.509 certificates. */
function checkAuthority(entry: Json): void {
  const chain = entry.certChain
  if (!isObject(chain) || !Array.isArray(chain.certificates) || chain.certificates.length === 0)
    throw new Error('no certChain.certificates')
  for (const certificate of chain.certificates) {
    if (!isObject(certificate)) throw new Error('a certificate is not an object')
    new X509Certificate(bytes(certificate.rawBytes))
  }
  checkValidity(entry)
}

/** A transparency or certificate log: a public key (DER SubjectPublicKeyInfo). */
function checkLog(entry: Json): void {
  const key = entry.publicKey
  if (!isObject(key)) throw new Error('no publicKey')
  createPublicKey({key: bytes(key.rawBytes), format: 'der', type: 'spki'})
  checkValidity(key)
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
  const root = json as Json
  let authorities: Json[]
  try {
    authorities = entries(root, 'certificateAuthorities')
    authorities.forEach(checkAuthority)
    entries(root, 'timestampAuthorities').forEach(checkAuthority)
    entries(root, 'tlogs').forEach(checkLog)
    entries(root, 'ctlogs').forEach(checkLog)
  } catch {
    throw new UserError(`${where} is not a readable Sigstore trusted root (certificateAuthorities, tlogs, ctlogs)`)
  }
  if (authorities.length === 0)
    throw new UserError(
      `${where} has no certificateAuthorities: keyless certificates need the CA (Fulcio's, or your own) that issued them`,
    )
  return {name, fingerprint: createHash('sha256').update(text).digest('hex'), text}
}

/** A trusted root from a file (`--trusted-root`, or a policy's `keyless.trustedRoot`). */
export function readTrustedRoot(file: string, what = '--trusted-root'): TrustedRootFile {
  const text = readTrustFile(file, what, MAX_TRUSTED_ROOT_BYTES, 'a trusted root')
  return parseTrustedRoot(text, file, `${what} "${file}"`)
}

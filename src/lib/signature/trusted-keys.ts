// Trusted public keys (PEM, as `cosign generate-key-pair` writes cosign.pub). Only the kinds cosign
// signs with and Sigstore verifies: ECDSA P-256 (SHA-256), Ed25519, RSA (PKCS#1 v1.5, SHA-256).
import {createHash, createPublicKey, type KeyObject} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {unreadableFile} from '../describe-error.js'
import {UserError} from '../errors.js'

export type TrustedKeyType = 'ecdsa-p256' | 'ed25519' | 'rsa'

export interface TrustedKey {
  /** How the user named it (the file path, or the policy's `name`). */
  name: string
  type: TrustedKeyType
  publicKey: KeyObject
  /** sha256 of the SubjectPublicKeyInfo, hex: the key's hint in a Sigstore bundle. */
  hint: string
}

/** Most PEM public keys are a few hundred bytes; RSA 8192 is under 2 KiB. */
const MAX_KEY_FILE_BYTES = 64 * 1024

/**
 * A trusted key from PEM text. `where` names it in errors (a flag and file, or a policy file and
 * line). The text itself never appears in a message: a private key pasted by mistake is a secret.
 */
export function parseTrustedKey(pem: string, name: string, where: string): TrustedKey {
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(pem))
    throw new UserError(
      `${where} is a private key; give the public key (cosign.pub, from cosign generate-key-pair), keep the private one secret`,
    )
  if (!/-----BEGIN PUBLIC KEY-----/.test(pem))
    throw new UserError(`${where} is not a PEM public key (-----BEGIN PUBLIC KEY-----); give cosign.pub`)
  let publicKey: KeyObject
  try {
    publicKey = createPublicKey(pem)
  } catch {
    throw new UserError(`${where} is not a readable PEM public key`)
  }
  let type: TrustedKeyType
  if (publicKey.asymmetricKeyType === 'ed25519') type = 'ed25519'
  else if (publicKey.asymmetricKeyType === 'rsa') {
    const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0
    if (bits < 2048) throw new UserError(`${where} is an RSA key of ${bits} bits; use at least 2048`)
    type = 'rsa'
  } else if (publicKey.asymmetricKeyType === 'ec' && publicKey.asymmetricKeyDetails?.namedCurve === 'prime256v1')
    type = 'ecdsa-p256'
  else
    throw new UserError(
      `${where} is a ${publicKey.asymmetricKeyType ?? 'unknown'}${publicKey.asymmetricKeyDetails?.namedCurve ? ` ${publicKey.asymmetricKeyDetails.namedCurve}` : ''} key; trusted keys are ECDSA P-256, Ed25519 or RSA`,
    )
  const spki = publicKey.export({type: 'spki', format: 'der'})
  return {name, type, publicKey, hint: createHash('sha256').update(spki).digest('hex')}
}

/**
 * The text of a file of trust material (a key, a trusted root) named by `what` (a flag or a
 * policy field), at most `maxBytes` long: refused in one line naming it, never quoting it.
 */
export function readTrustFile(file: string, what: string, maxBytes: number, kind: string): string {
  try {
    const bytes = readFileSync(file)
    if (bytes.length > maxBytes)
      throw new UserError(`${what} "${file}" is ${bytes.length} bytes, too large for ${kind}`)
    return bytes.toString('utf8')
  } catch (error) {
    if (error instanceof UserError) throw error
    throw new UserError(unreadableFile(what, `"${file}"`, error))
  }
}

/** A trusted key from a file (`--key cosign.pub`, or a policy's `keyFile`). */
export function readTrustedKey(file: string, what = '--key'): TrustedKey {
  const pem = readTrustFile(file, what, MAX_KEY_FILE_BYTES, 'a public key')
  return parseTrustedKey(pem, file, `${what} "${file}"`)
}

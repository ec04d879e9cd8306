import {X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {unreadableFile} from './describe-error.js'
import {UserError} from './errors.js'

/**
 * PEM files given by flags (certificates, keys, CA bundles), read and checked with the flag named
 * and the problem in words, never the file's content. Node takes a non-PEM `ca` without a word and
 * then fails the handshake as if no CA had been given, so a CA file is checked before it is used.
 */

/** The bytes of a file a flag names, or one line naming the flag and why it cannot be read. */
export function readFlagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (error) {
    throw new UserError(unreadableFile(flag, file, error))
  }
}

/** What kind of PEM blocks a file holds, to say what it is when it is not what the flag wants. */
export function pemKinds(data: Buffer): {certificate: boolean; privateKey: boolean; encrypted: boolean} {
  const text = data.toString('latin1')
  return {
    certificate: /-----BEGIN (?:TRUSTED )?CERTIFICATE-----/.test(text),
    privateKey: /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(text),
    encrypted: /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text),
  }
}

/** The first certificate of a PEM file, or one line saying why there is none. */
export function parsePemCertificate(flag: string, file: string, data: Buffer, swapHint = ''): X509Certificate {
  const kinds = pemKinds(data)
  if (!kinds.certificate) {
    throw new UserError(
      `${flag} ${file} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)${kinds.privateKey ? `; it holds a private key${swapHint}` : ''}`,
    )
  }
  try {
    return new X509Certificate(data)
  } catch {
    throw new UserError(`${flag} ${file}: the certificate block is damaged (not valid base64 DER); export it again`)
  }
}

/** A CA bundle a flag names (`--ca-file`): readable, with at least one certificate that parses. */
export function readCaBundle(flag: string, file: string): Buffer {
  const data = readFlagFile(flag, file)
  parsePemCertificate(flag, file, data)
  return data
}

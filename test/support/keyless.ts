// A test Sigstore PKI for keyless mode, made in-process with @peculiar/x509: a root CA (and an
// intermediate), leaf "Fulcio" certificates for a cosign key pair's public key with an email or
// URI SAN and the Fulcio OIDC-issuer extension (1.3.6.1.4.1.57264.1.8 as a DER UTF8String, or the
// legacy .1.1 as raw bytes), and a trusted_root.json (Sigstore's TrustedRoot, JSON) listing only
// certificate authorities — what an offline cluster is given instead of public Sigstore's root.
import 'reflect-metadata'
import {execFile} from 'node:child_process'
import {randomBytes, webcrypto} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {promisify} from 'node:util'

import * as x509 from '@peculiar/x509'

import {cosignBinary, type TestKeyPair} from './cosign.js'
import type {Credentials, RunningRegistry} from './registry.js'

const execFileAsync = promisify(execFile)
x509.cryptoProvider.set(webcrypto as never)

const ALGORITHM = {name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256'}
const DAY = 24 * 60 * 60 * 1000
const FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8'
const FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1'

export interface TestAuthority {
  cert: x509.X509Certificate
  keys: webcrypto.CryptoKeyPair
  /** The chain up to the root, this certificate first. */
  chain: x509.X509Certificate[]
}

function serial(): string {
  const bytes = randomBytes(16)
  bytes[0] &= 0x7f
  return bytes.toString('hex')
}

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
}

/** A self-signed root CA, or with `parent` an intermediate CA it issues. */
export async function createAuthority(name: string, parent?: TestAuthority): Promise<TestAuthority> {
  const keys = await newKeys()
  const notBefore = new Date(Date.now() - 30 * DAY)
  const extensions = [
    new x509.BasicConstraintsExtension(true, parent ? 0 : 1, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
  ]
  if (!parent) {
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=${name}, O=imgsec-test`,
      notBefore,
      notAfter: new Date(notBefore.getTime() + 3650 * DAY),
      keys: keys as never,
      signingAlgorithm: ALGORITHM,
      extensions,
    })
    return {cert, keys, chain: [cert]}
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${name}, O=imgsec-test`,
    issuer: parent.cert.subject,
    notBefore,
    notAfter: new Date(notBefore.getTime() + 3650 * DAY),
    publicKey: keys.publicKey as never,
    signingKey: parent.keys.privateKey as never,
    signingAlgorithm: ALGORITHM,
    extensions: [...extensions, await x509.AuthorityKeyIdentifierExtension.create(parent.cert)],
  })
  return {cert, keys, chain: [cert, ...parent.chain]}
}

export interface LeafOptions {
  /** `email:someone@example.com` or `uri:https://…` */
  san: string
  /** The OIDC issuer; undefined: no issuer extension. */
  issuer?: string
  /**
   * Which issuer extensions: both (as Fulcio writes them, the default), only .1.8, or only the
   * legacy .1.1 (cosign v2.6.5 reads only .1.1 for tag-scheme signatures).
   */
  issuerExtensions?: 'both' | 'v2' | 'legacy'
  notBefore?: Date
  notAfter?: Date
  /** Leave out the codeSigning extended key usage. */
  noCodeSigning?: boolean
}

/** A leaf code-signing certificate for `publicKeyFile` (cosign.pub), issued by `ca`; PEM. */
export async function issueLeaf(ca: TestAuthority, publicKeyFile: string, options: LeafOptions): Promise<string> {
  const spki = readFileSync(publicKeyFile, 'utf8')
    .replace(/-----[^-]+-----/g, '')
    .replace(/\s+/g, '')
  const publicKey = await webcrypto.subtle.importKey('spki', Buffer.from(spki, 'base64'), ALGORITHM, true, ['verify'])
  const [type, ...rest] = options.san.split(':')
  const value = rest.join(':')
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(
      options.noCodeSigning ? [x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.codeSigning],
    ),
    new x509.SubjectAlternativeNameExtension([{type: type === 'email' ? 'email' : 'url', value}], true),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    await x509.SubjectKeyIdentifierExtension.create(publicKey as never),
  ]
  if (options.issuer !== undefined) {
    const bytes = Buffer.from(options.issuer, 'utf8')
    const which = options.issuerExtensions ?? 'both'
    // .1.8 holds a DER UTF8String (tag 12, short length); the legacy .1.1 the raw string.
    if (which !== 'legacy')
      extensions.push(
        new x509.Extension(FULCIO_ISSUER_V2, false, Buffer.concat([Buffer.from([12, bytes.length]), bytes])),
      )
    if (which !== 'v2') extensions.push(new x509.Extension(FULCIO_ISSUER_V1, false, bytes))
  }
  const notBefore = options.notBefore ?? new Date(Date.now() - 60 * 60 * 1000)
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: '',
    issuer: ca.cert.subject,
    notBefore,
    notAfter: options.notAfter ?? new Date(Date.now() + DAY),
    publicKey: publicKey as never,
    signingKey: ca.keys.privateKey as never,
    signingAlgorithm: ALGORITHM,
    extensions,
  })
  return cert.toString('pem') + '\n'
}

/** PEM of a chain (intermediate first, root last), as `cosign sign --certificate-chain` wants it. */
export function chainPem(ca: TestAuthority): string {
  return ca.chain.map((cert) => cert.toString('pem')).join('\n') + '\n'
}

/** Sigstore's trusted_root.json with these CAs (each its whole chain) and nothing else. */
export function trustedRootJson(cas: TestAuthority[]): string {
  return JSON.stringify(
    {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [],
      certificateAuthorities: cas.map((ca) => ({
        subject: {organization: 'imgsec-test', commonName: ca.cert.subject},
        uri: 'https://fulcio.example.test',
        certChain: {certificates: ca.chain.map((cert) => ({rawBytes: Buffer.from(cert.rawData).toString('base64')}))},
        validFor: {start: new Date(Date.now() - 60 * DAY).toISOString()},
      })),
      ctlogs: [],
      timestampAuthorities: [],
    },
    null,
    2,
  )
}

export function writeTrustedRoot(file: string, cas: TestAuthority[]): string {
  writeFileSync(file, trustedRootJson(cas))
  return file
}

export interface CertificateSigning {
  certificateFile: string
  chainFile: string
  /** A Sigstore bundle among the referrers (`--new-bundle-format`) instead of the tag scheme. */
  bundle?: boolean
  credentials?: Credentials
}

/**
 * Sign with the real cosign as keyless signers do offline: the key pair's private key, the leaf
 * certificate for its public key and the CA chain, no transparency log (`cosign sign --key
 * --certificate --certificate-chain --tlog-upload=false`). Returns false without cosign.
 */
export async function signWithCertificate(
  registry: RunningRegistry,
  repository: string,
  digest: string,
  key: TestKeyPair,
  options: CertificateSigning,
): Promise<boolean> {
  const cosign = cosignBinary()
  if (!cosign || !key.privateKeyFile) return false
  const args = ['sign', '--key', key.privateKeyFile, '--certificate', options.certificateFile]
  args.push('--certificate-chain', options.chainFile, '--tlog-upload=false')
  if (options.bundle) args.push('--new-bundle-format')
  if (options.credentials)
    args.push('--registry-username', options.credentials.username, '--registry-password', options.credentials.password)
  const env: NodeJS.ProcessEnv = {...process.env, COSIGN_PASSWORD: key.password, COSIGN_YES: 'true'}
  await execFileAsync(cosign, [...args, `${registry.host}/${repository}@${digest}`], {env, timeout: 60_000})
  return true
}

/**
 * The real cosign's verdict, for cross-checks: `cosign verify --certificate-identity[-regexp]
 * --certificate-oidc-issuer[-regexp] --trusted-root --insecure-ignore-tlog --insecure-ignore-sct`.
 */
export async function cosignVerifiesKeyless(
  image: string,
  options: {identity: string[]; issuer: string[]; trustedRoot: string; bundle?: boolean},
): Promise<boolean> {
  const args = ['verify', ...options.identity, ...options.issuer, '--trusted-root', options.trustedRoot]
  args.push('--insecure-ignore-tlog', '--insecure-ignore-sct')
  if (options.bundle) args.push('--new-bundle-format')
  try {
    await execFileAsync(cosignBinary()!, [...args, image], {timeout: 60_000})
    return true
  } catch {
    return false
  }
}

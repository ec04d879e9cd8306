import {randomBytes, webcrypto} from 'node:crypto'
import {isIP} from 'node:net'

/**
 * The backend's own small PKI, made in-process with @peculiar/x509 (no openssl): a dedicated CA,
 * a serving certificate whose SANs cover the exact host the API server dials (Kubernetes
 * rejects CN-only certificates since 1.19), and a client certificate for the API server.
 * ECDSA P-256 keys, exported as PKCS#8 PEM.
 */

export interface KeyPairPem {
  certPem: string
  keyPem: string
}

const ALGORITHM = {name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256'}
const DAY = 24 * 60 * 60 * 1000

async function x509() {
  // @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API.
  await import('reflect-metadata')
  const lib = await import('@peculiar/x509')
  lib.cryptoProvider.set(webcrypto as never)
  return lib
}

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key))
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END PRIVATE KEY-----\n`
}

async function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, true, ['sign'])
}

function serial(): string {
  const bytes = randomBytes(16)
  bytes[0] &= 0x7f // positive
  return bytes.toString('hex')
}

export async function createCertificateAuthority(commonName: string, days = 3650): Promise<KeyPairPem> {
  const lib = await x509()
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
  const notBefore = new Date(Date.now() - 5 * 60 * 1000)
  const cert = await lib.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * DAY),
    keys: keys as never,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new lib.BasicConstraintsExtension(true, 0, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
      await lib.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  })
  return {certPem: cert.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey)}
}

export async function issueCertificate(
  ca: KeyPairPem,
  options: {commonName: string; usage: 'server' | 'client'; hosts?: string[]; organization?: string; days?: number},
): Promise<KeyPairPem> {
  const lib = await x509()
  const caCert = new lib.X509Certificate(ca.certPem)
  const caKey = await importKey(ca.keyPem)
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
  const hosts = [...new Set(options.hosts ?? [])]
  const names = hosts.map((host) => ({
    type: isIP(host.replace(/^\[|\]$/g, '')) ? ('ip' as const) : ('dns' as const),
    value: host.replace(/^\[|\]$/g, ''),
  }))
  const notBefore = new Date(Date.now() - 5 * 60 * 1000)
  const cert = await lib.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.commonName}${options.organization ? `, O=${options.organization}` : ''}`,
    issuer: caCert.subject,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.days ?? 825) * DAY),
    publicKey: keys.publicKey as never,
    signingKey: caKey as never,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new lib.BasicConstraintsExtension(false, undefined, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
      new lib.ExtendedKeyUsageExtension([
        options.usage === 'server' ? lib.ExtendedKeyUsage.serverAuth : lib.ExtendedKeyUsage.clientAuth,
      ]),
      ...(names.length > 0 ? [new lib.SubjectAlternativeNameExtension(names)] : []),
      await lib.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  })
  return {certPem: cert.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey)}
}

/** Subject alternative names of a PEM certificate, as `DNS:x` / `IP:y`, and its expiry. */
export async function describeCertificate(pem: string): Promise<{names: string[]; notAfter: Date; subject: string}> {
  const lib = await x509()
  const cert = new lib.X509Certificate(pem)
  const san = cert.getExtension(lib.SubjectAlternativeNameExtension)
  return {
    names: (san?.names.toJSON() ?? []).map((name) => `${name.type === 'ip' ? 'IP' : 'DNS'}:${name.value}`),
    notAfter: cert.notAfter,
    subject: cert.subject,
  }
}

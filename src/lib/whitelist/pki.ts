// The whitelist's certificates in --config-dir/pki: one CA, the API server's client certificate,
// and the backend's serving certificate. Reused while valid for 30 more days (and, for serving,
// while it covers the names the API server dials), so a second enable changes nothing.
import {createCertificateAuthority, describeCertificate, issueCertificate, type KeyPairPem} from './certificates.js'
import type {WhitelistPaths} from './files.js'
import {readIfExists} from './node-files.js'

export interface Pki {
  ca: KeyPairPem
  client: KeyPairPem
  /** The CA was read from --config-dir, not made now: its certificates may be reused. */
  caReused: boolean
}

async function reusable(certFile: string, keyFile: string, wantedNames?: string[]): Promise<KeyPairPem | undefined> {
  const certPem = readIfExists(certFile)
  const keyPem = readIfExists(keyFile)
  if (!certPem || !keyPem) return undefined
  const info = await describeCertificate(certPem)
  if (info.notAfter.getTime() < Date.now() + 30 * 24 * 3600 * 1000) return undefined
  if (wantedNames && !wantedNames.every((name) => info.names.includes(name))) return undefined
  return {certPem, keyPem}
}

/** The CA and the API server's client certificate: the ones in --config-dir, or new ones. */
export async function loadOrCreatePki(paths: WhitelistPaths, changes: string[]): Promise<Pki> {
  const existingCa = readIfExists(paths.caCert)
  const existingCaKey = readIfExists(paths.caKey)
  let ca: KeyPairPem
  if (existingCa && existingCaKey) ca = {certPem: existingCa, keyPem: existingCaKey}
  else {
    ca = await createCertificateAuthority('kubectl-imgsec image policy CA')
    changes.push('generated a CA for the image policy backend')
  }
  const caReused = existingCa !== undefined
  const client =
    (caReused ? await reusable(paths.clientCert, paths.clientKey) : undefined) ??
    (await issueCertificate(ca, {commonName: 'kube-apiserver-imgsec-client', usage: 'client'}))
  return {ca, client, caReused}
}

/** The subjectAltNames a host list gives (IP: for addresses, DNS: for names). */
export function subjectAltNames(hosts: string[]): string[] {
  return hosts.map((host) => (/^[\d.]+$|:/.test(host) ? `IP:${host.replace(/^\[|\]$/g, '')}` : `DNS:${host}`))
}

/** The backend's serving certificate for `hosts`: the one in --config-dir when it still fits, else a new one. */
export async function loadOrIssueServing(paths: WhitelistPaths, pki: Pki, hosts: string[]): Promise<KeyPairPem> {
  const reused = pki.caReused ? await reusable(paths.servingCert, paths.servingKey, subjectAltNames(hosts)) : undefined
  return reused ?? (await issueCertificate(pki.ca, {commonName: 'imgsec-webhook', usage: 'server', hosts}))
}

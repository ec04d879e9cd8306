// `whitelist rotate-certs`: new serving and client certificates from the same CA. The API server
// trusts the CA, not a certificate, and so does the backend for its clients: either may pick up
// its new certificate at any moment with no window where they disagree. The backend swaps its
// serving certificate in when the files change (webhook-backend.ts); kube-apiserver reads the
// client certificate named in the webhook kubeconfig again when it changes.
import {createPrivateKey} from 'node:crypto'

import {writeFileAtomic} from '../atomic-write.js'
import {describeCertificate, issueCertificate} from './certificates.js'
import {UserError} from '../errors.js'
import {parsePemCertificate, readFlagFile} from '../pem.js'
import {readState} from './state.js'
import {whitelistPaths} from './files.js'

export interface RotationResult {
  changes: string[]
}

export async function rotateCertificates(options: {configDir: string; days?: number}): Promise<RotationResult> {
  const paths = whitelistPaths(options.configDir)
  const state = readState(options.configDir)
  if (!state)
    throw new UserError(
      `the registry whitelist was not enabled by kubectl-imgsec with --config-dir ${paths.configDir} (no ${paths.state})`,
    )
  if (state.placement !== 'static')
    throw new UserError(
      `rotate-certs renews the static placement's certificates; the ${state.placement} placement: run "whitelist enable" again with the same flags`,
    )
  // Each file named with what it is and the problem in words, never its content (a key).
  const certificate = (what: string, file: string) => {
    const data = readFlagFile(what, file)
    parsePemCertificate(what, file, data)
    return data.toString('utf8')
  }
  const key = (what: string, file: string) => {
    const data = readFlagFile(what, file)
    try {
      createPrivateKey(data)
    } catch {
      throw new UserError(
        `${what} ${file} is not a PEM private key: make new ones with "whitelist disable" and "whitelist enable"`,
      )
    }
    return data.toString('utf8')
  }
  const ca = {certPem: certificate('the CA certificate', paths.caCert), keyPem: key('the CA key', paths.caKey)}
  const caInfo = await describeCertificate(ca.certPem)
  const days = options.days ?? 825
  if (caInfo.notAfter.getTime() < Date.now() + days * 86_400_000) {
    throw new UserError(
      `the CA ${paths.caCert} expires on ${caInfo.notAfter.toISOString()}, before certificates valid for ${days} days would: renew it with "whitelist disable" and "whitelist enable"`,
    )
  }
  const serving = await describeCertificate(certificate('the serving certificate', paths.servingCert))
  const hosts = serving.names.map((name) => name.replace(/^(IP|DNS):/, ''))
  const newServing = await issueCertificate(ca, {commonName: 'imgsec-webhook', usage: 'server', hosts, days})
  const newClient = await issueCertificate(ca, {commonName: 'kube-apiserver-imgsec-client', usage: 'client', days})
  // Key before certificate: a reader that sees the new certificate finds its key already there.
  // writeFileAtomic keeps each file's mode and owner (the backend's files belong to its user).
  writeFileAtomic(paths.servingKey, newServing.keyPem, {mode: 0o600})
  writeFileAtomic(paths.servingCert, newServing.certPem, {mode: 0o644})
  writeFileAtomic(paths.clientKey, newClient.keyPem, {mode: 0o600})
  writeFileAtomic(paths.clientCert, newClient.certPem, {mode: 0o644})
  const until = (await describeCertificate(newServing.certPem)).notAfter.toISOString()
  return {
    changes: [
      `renewed the serving certificate ${paths.servingCert} (${hosts.join(', ')}) until ${until}`,
      `renewed the API server's client certificate ${paths.clientCert} until ${until}`,
    ],
  }
}

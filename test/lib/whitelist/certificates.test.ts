import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {createServer, request} from 'node:https'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {
  createCertificateAuthority,
  describeCertificate,
  issueCertificate,
  type KeyPairPem,
} from '../../../src/lib/whitelist/certificates.js'

describe('certificates', () => {
  let ca: KeyPairPem
  let serving: KeyPairPem
  let client: KeyPairPem
  before(async () => {
    ca = await createCertificateAuthority('kubectl-imgsec webhook CA')
    serving = await issueCertificate(ca, {
      commonName: 'imgsec-webhook',
      usage: 'server',
      hosts: ['127.0.0.1', 'imgsec-webhook.imgsec-system.svc', '10.0.0.5'],
    })
    client = await issueCertificate(ca, {commonName: 'kube-apiserver', usage: 'client', organization: 'system:masters'})
  })

  it('the serving certificate carries the SANs, not only a CN', async () => {
    const info = await describeCertificate(serving.certPem)
    expect(info.names).to.deep.equal(['IP:127.0.0.1', 'DNS:imgsec-webhook.imgsec-system.svc', 'IP:10.0.0.5'])
    expect(info.notAfter.getTime()).to.be.greaterThan(Date.now() + 365 * 24 * 3600 * 1000)
  })

  it('openssl verifies the chain and the purposes', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-certs-'))
    for (const [name, pem] of Object.entries({ca: ca.certPem, serving: serving.certPem, client: client.certPem}))
      writeFileSync(path.join(dir, `${name}.crt`), pem)
    expect(
      execFileSync(
        'openssl',
        ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', 'sslserver', path.join(dir, 'serving.crt')],
        {encoding: 'utf8'},
      ),
    ).to.contain(': OK')
    expect(
      execFileSync(
        'openssl',
        ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', 'sslclient', path.join(dir, 'client.crt')],
        {encoding: 'utf8'},
      ),
    ).to.contain(': OK')
    const text = execFileSync('openssl', ['x509', '-in', path.join(dir, 'ca.crt'), '-noout', '-text'], {
      encoding: 'utf8',
    })
    expect(text).to.match(/CA:TRUE/)
  })

  it('works for a mutual-TLS handshake by IP', async () => {
    const server = createServer(
      {cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true},
      (req, res) => {
        res.end(
          (req.socket as unknown as {getPeerCertificate(): {subject: {CN: string}}}).getPeerCertificate().subject.CN,
        )
      },
    )
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const body = await new Promise<string>((resolve, reject) => {
        request(
          `https://127.0.0.1:${(server.address() as AddressInfo).port}/`,
          {ca: ca.certPem, cert: client.certPem, key: client.keyPem},
          (res) => {
            let text = ''
            res.on('data', (chunk) => {
              text += chunk
            })
            res.on('end', () => resolve(text))
          },
        )
          .on('error', reject)
          .end()
      })
      expect(body).to.equal('kube-apiserver')
    } finally {
      server.close()
    }
  })
})

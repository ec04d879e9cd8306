import {expect} from 'chai'
import {createServer, type Server} from 'node:https'
import type {AddressInfo} from 'node:net'

import {awaitDecision, checkBackend} from '../../../src/lib/whitelist/backend-probe.js'
import {createCertificateAuthority, issueCertificate, type KeyPairPem} from '../../../src/lib/whitelist/certificates.js'
import {POLICY_DIGEST_HEADER} from '../../../src/lib/webhook/webhook-server.js'

// A backend as the API server sees it: mutual TLS, /healthz naming the policy digest, ImageReviews on POST.
describe('backend probes (checkBackend, awaitDecision) over httpsRequest and pollUntil', () => {
  let ca: KeyPairPem
  let client: KeyPairPem
  let server: Server
  let url: string
  let digest = 'aaa'
  let allowed = false
  let seen: string[] = []
  before(async () => {
    ca = await createCertificateAuthority('probe test CA')
    const serving = await issueCertificate(ca, {commonName: 'imgsec-webhook', usage: 'server', hosts: ['127.0.0.1']})
    client = await issueCertificate(ca, {commonName: 'kube-apiserver', usage: 'client'})
    server = createServer(
      {cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true},
      (req, res) => {
        let body = ''
        req.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk
        })
        req.on('end', () => {
          seen.push(`${req.method} ${req.url}`)
          if (req.url === '/healthz') {
            res.writeHead(200, {[POLICY_DIGEST_HEADER]: digest}).end('ok')
            return
          }
          const image = JSON.parse(body).spec.containers[0].image
          res.writeHead(200, {'content-type': 'application/json'}).end(
            JSON.stringify({
              apiVersion: 'imagepolicy.k8s.io/v1alpha1',
              kind: 'ImageReview',
              status: {allowed, ...(allowed ? {} : {reason: `${image} is not allowed`})},
            }),
          )
        })
      },
    )
    await new Promise<void>((resolve) => {
      server.listen(0, '127.0.0.1', () => resolve())
    })
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/image_policy`
  })
  after(() => {
    server.close()
  })
  beforeEach(() => {
    seen = []
    digest = 'aaa'
    allowed = false
  })
  const tls = () => ({ca: ca.certPem, cert: client.certPem, key: client.keyPem})

  it('healthy with the expected digest, then a test ImageReview through the webhook URL', async () => {
    const result = await checkBackend(url, tls(), 2000, 'aaa')
    expect(result).to.deep.equal({
      healthy: true,
      answering: true,
      detail: `${url} answered a test ImageReview for nginx:latest: denied (nginx:latest is not allowed)`,
    })
    expect(seen).to.deep.equal(['GET /healthz', 'POST /image_policy'])
  })

  it('a backend still deciding by the previous policy file is asked again, then reported by name', async () => {
    const result = await checkBackend(url, tls(), 700, 'bbb')
    expect(result.answering).to.equal(false)
    expect(result.detail).to.equal(
      `${new URL('/healthz', url).href} did not answer within 1s (last: the backend still decides by the previous policy file)`,
    )
    expect(seen.length).to.be.greaterThan(1)
    expect(seen.every((line) => line === 'GET /healthz')).to.equal(true)
  })

  it('no digest asked (an external backend): any healthy answer will do', async () => {
    expect((await checkBackend(url, tls(), 2000)).answering).to.equal(true)
  })

  it('a port nobody listens on: the network failure in words', async () => {
    const dead = 'https://127.0.0.1:1/image_policy'
    expect(await checkBackend(dead, tls(), 300)).to.deep.equal({
      healthy: false,
      answering: false,
      detail: 'https://127.0.0.1:1/healthz did not answer within 0s (last: connection refused)',
    })
  })

  it('awaitDecision waits until the decision follows, and says false when it never does', async () => {
    setTimeout(() => {
      allowed = true
    }, 300).unref()
    expect(await awaitDecision(url, tls(), 'quay.io/imgsec/probe:1.0', true, 3000)).to.equal(true)
    expect(seen.length).to.be.greaterThan(1)
    allowed = false
    expect(await awaitDecision(url, tls(), 'quay.io/imgsec/probe:1.0', true, 300)).to.equal(false)
  })
})

import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {renderWebhookKubeconfig} from '../../src/lib/webhook-kubeconfig.js'
import {CLI, ROOT} from '../support/cli.js'
import {httpsRequest, type TlsClient} from '../support/https-client.js'
import {freePort} from '../support/registry.js'
import {createTestCa, type IssuedCert, type TestCa} from '../support/tls.js'

interface Backend {
  port: number
  process: ChildProcess
  logs: () => Array<Record<string, unknown>>
  stop: () => Promise<void>
}

async function startBackend(args: string[]): Promise<Backend> {
  const port = await freePort()
  const child = spawn(process.execPath, [CLI, 'webhook', 'serve', '--address', '127.0.0.1', '--port', String(port), ...args], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NODE_ENV: 'production'}})
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const logs = () => stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
  const deadline = Date.now() + 15_000
  while (!logs().some((entry) => entry.event === 'listening')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`backend did not start: ${stderr}${stdout}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    port,
    process: child,
    logs,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    }),
  }
}

const post = (url: string, body: string | Buffer, tls: TlsClient, method = 'POST') => httpsRequest(url, tls, body, method)

const review = (images: string[], namespace = 'default', annotations: Record<string, string> = {}) => JSON.stringify({
  apiVersion: 'imagepolicy.k8s.io/v1alpha1', kind: 'ImageReview', spec: {containers: images.map((image) => ({image})), annotations, namespace},
})

describe('webhook serve (built CLI over real TLS)', () => {
  let ca: TestCa
  let serving: IssuedCert
  let client: IssuedCert
  let dir: string
  let policyFile: string
  let backend: Backend
  let url: string
  let tls: TlsClient
  before(async () => {
    ca = await createTestCa()
    serving = await ca.issue({cn: 'imgsec-webhook', ipAddresses: ['127.0.0.1']})
    client = await ca.issue({cn: 'kube-apiserver'})
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-webhook-'))
    policyFile = path.join(dir, 'policy.yaml')
    writeFileSync(policyFile, 'allowedRegistries: [docker.io, registry.k8s.io]\n')
    backend = await startBackend(['--cert', serving.certFile, '--key', serving.keyFile, '--client-ca', ca.caCertFile, '--policy', policyFile])
    url = `https://127.0.0.1:${backend.port}`
    tls = {ca: ca.caCertPem, cert: client.certPem, key: client.keyPem}
  })
  after(async () => {
    await backend?.stop()
  })

  it("refuses the fixture's ImageReview, naming every refused image and why", async () => {
    const fixture = readFileSync(path.join(ROOT, 'test', 'fixtures', 'imagereview-request.json'))
    const answer = await post(`${url}/image_policy`, fixture, tls)
    expect(answer.status).to.equal(200)
    const status = JSON.parse(answer.body).status
    expect(status.allowed).to.equal(false)
    expect(status.reason).to.contain('image-registry-not-allowed: registry myprivateregistry.com:5000 of myprivateregistry.com:5000/nginx:alpine is not in the allowed registries')
    expect(status.reason).to.contain('image-tag-missing: httpd has no tag')
    expect(status.auditAnnotations).to.deep.equal({decision: 'denied', 'refused-images': 'myprivateregistry.com:5000/nginx:alpine,httpd'})
    const line = backend.logs().find((entry) => entry.event === 'decision')
    expect(line).to.include({namespace: 'default', allowed: false})
  })

  it('allows pinned images from allowed registries, on / as on /image_policy', async () => {
    for (const endpoint of ['/image_policy', '/']) {
      const answer = JSON.parse((await post(`${url}${endpoint}`, review(['nginx:1.27', `registry.k8s.io/pause@sha256:${'a'.repeat(64)}`]), tls)).body)
      expect(answer).to.deep.equal({apiVersion: 'imagepolicy.k8s.io/v1alpha1', kind: 'ImageReview', status: {allowed: true, auditAnnotations: {decision: 'allowed'}}})
    }
  })

  it('kube-system is exempt by default', async () => {
    const answer = JSON.parse((await post(`${url}/image_policy`, review(['quay.io/x/y:latest'], 'kube-system'), tls)).body)
    expect(answer.status.allowed).to.equal(true)
    expect(answer.status.auditAnnotations.exempt).to.equal('namespace')
  })

  it('break-glass lets a refused pod through and is logged', async () => {
    const answer = JSON.parse((await post(`${url}/image_policy`, review(['nginx:latest'], 'default', {'alpha.image-policy.k8s.io/break-glass': 'true'}), tls)).body)
    expect(answer.status.allowed).to.equal(true)
    expect(answer.status.auditAnnotations).to.include({'break-glass': 'true'})
    expect(answer.status.reason).to.match(/^break-glass annotation alpha\.image-policy\.k8s\.io\/break-glass=true let refused images through: image-tag-latest/)
    expect(backend.logs().some((entry) => entry.event === 'break-glass' && entry.allowed === true)).to.equal(true)
  })

  describe('bad requests get 4xx with a message, never 500 or a crash', () => {
    const cases: Array<[string, string | Buffer, number, RegExp, string?]> = [
      ['malformed JSON', '{"apiVersion": ', 400, /malformed JSON/],
      ['wrong kind', JSON.stringify({apiVersion: 'imagepolicy.k8s.io/v1alpha1', kind: 'Pod', spec: {}}), 400, /kind must be ImageReview/],
      ['wrong apiVersion', JSON.stringify({apiVersion: 'v1', kind: 'ImageReview', spec: {}}), 400, /apiVersion must be imagepolicy\.k8s\.io\/v1alpha1/],
      ['containers not a list', JSON.stringify({apiVersion: 'imagepolicy.k8s.io/v1alpha1', kind: 'ImageReview', spec: {containers: 'x'}}), 400, /spec\.containers must be a list/],
      ['body over 1 MiB', Buffer.alloc(1024 * 1024 + 10, 32), 413, /over 1048576 bytes/],
      ['GET on the endpoint', '', 405, /POST an ImageReview/, 'GET'],
    ]
    for (const [title, body, status, message, method] of cases) {
      it(title, async () => {
        const answer = await post(`${url}/image_policy`, body, tls, method)
        expect(answer.status).to.equal(status)
        expect(answer.body).to.match(message)
      })
    }
    it('is still healthy afterwards', async () => {
      expect(await post(`${url}/healthz`, '', tls, 'GET')).to.deep.equal({status: 200, body: 'ok'})
      expect(backend.process.exitCode).to.equal(null)
    })
  })

  it('refuses reviews from clients without a certificate from the CA; /healthz stays open for the kubelet probe', async () => {
    const answer = await post(`${url}/image_policy`, review(['nginx:1.27']), {ca: ca.caCertPem})
    expect(answer.status).to.equal(401)
    expect(answer.body).to.contain('client certificate')
    const other = await createTestCa()
    const stranger = await other.issue({cn: 'stranger'})
    expect((await post(`${url}/image_policy`, review(['nginx:1.27']), {ca: ca.caCertPem, cert: stranger.certPem, key: stranger.keyPem})).status).to.equal(401)
    expect(await post(`${url}/healthz`, '', {ca: ca.caCertPem}, 'GET')).to.deep.equal({status: 200, body: 'ok'})
  })

  it('reloads the policy when the file changes; an invalid policy keeps the old one', async () => {
    writeFileSync(policyFile, 'allowedRegistries: [docker.io, registry.k8s.io, "myprivateregistry.com:5000"]\n')
    const deadline = Date.now() + 5000
    let allowed = false
    while (!allowed && Date.now() < deadline) {
      allowed = JSON.parse((await post(`${url}/image_policy`, review(['myprivateregistry.com:5000/nginx:alpine']), tls)).body).status.allowed
      if (!allowed) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(allowed).to.equal(true)
    writeFileSync(policyFile, 'allowedRegistries: "not a list"\n')
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(backend.logs().some((entry) => entry.event === 'policy-reload-failed')).to.equal(true)
    expect(JSON.parse((await post(`${url}/image_policy`, review(['myprivateregistry.com:5000/nginx:alpine']), tls)).body).status.allowed).to.equal(true)
    writeFileSync(policyFile, 'allowedRegistries: [docker.io]\n')
    backend.process.kill('SIGHUP')
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(JSON.parse((await post(`${url}/image_policy`, review(['myprivateregistry.com:5000/nginx:alpine']), tls)).body).status.allowed).to.equal(false)
  })

  it('a client built from the rendered webhook kubeconfig, as the API server builds it, gets the decision', async () => {
    const file = path.join(dir, 'webhook.kubeconfig')
    writeFileSync(file, renderWebhookKubeconfig({server: `${url}/image_policy`, caFile: ca.caCertFile, clientCertificate: client.certFile, clientKey: client.keyFile}))
    const config = parseYaml(readFileSync(file, 'utf8'))
    const context = config.contexts.find((c: {name: string}) => c.name === config['current-context']).context
    const cluster = config.clusters.find((c: {name: string}) => c.name === context.cluster).cluster
    const user = config.users.find((u: {name: string}) => u.name === context.user).user
    const answer = await post(cluster.server, review(['nginx:latest']), {
      ca: readFileSync(cluster['certificate-authority'], 'utf8'),
      cert: readFileSync(user['client-certificate'], 'utf8'),
      key: readFileSync(user['client-key'], 'utf8'),
    })
    expect(JSON.parse(answer.body).status).to.include({allowed: false})
  })
})

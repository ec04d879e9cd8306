import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import https from 'node:https'
import {createServer} from 'node:net'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {renderWebhookKubeconfig} from '../../src/lib/controlplane/webhook-kubeconfig.js'
import {CLI, ROOT, runCli, runProgram} from '../support/cli.js'
import {httpsRequest, type TlsClient} from '../support/https-client.js'
import {freePort} from '../support/registry.js'
import {createTestCa, type IssuedCert, type TestCa} from '../support/tls.js'

interface Backend {
  port: number
  process: ChildProcess
  logs: () => Array<Record<string, unknown>>
  logged: (predicate: (entry: Record<string, unknown>) => boolean) => Promise<Record<string, unknown> | undefined>
  stop: () => Promise<void>
}

async function startBackend(args: string[]): Promise<Backend> {
  const port = await freePort()
  const child = spawn(
    process.execPath,
    [CLI, 'webhook', 'serve', '--address', '127.0.0.1', '--port', String(port), ...args],
    {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NODE_ENV: 'production'}},
  )
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const logs = () =>
    stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
  const deadline = Date.now() + 15_000
  while (!logs().some((entry) => entry.event === 'listening')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`backend did not start: ${stderr}${stdout}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  // The backend writes its log in batches (at most ~20 ms late): wait for the line.
  const logged = async (predicate: (entry: Record<string, unknown>) => boolean) => {
    const until = Date.now() + 5000
    while (Date.now() < until) {
      const found = logs().find(predicate)
      if (found) return found
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return undefined
  }
  return {
    port,
    process: child,
    logs,
    logged,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

const post = (url: string, body: string | Buffer, tls: TlsClient, method = 'POST') =>
  httpsRequest(url, tls, body, method)

const review = (images: string[], namespace = 'default', annotations: Record<string, string> = {}) =>
  JSON.stringify({
    apiVersion: 'imagepolicy.k8s.io/v1alpha1',
    kind: 'ImageReview',
    spec: {containers: images.map((image) => ({image})), annotations, namespace},
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
    backend = await startBackend([
      '--cert',
      serving.certFile,
      '--key',
      serving.keyFile,
      '--client-ca',
      ca.caCertFile,
      '--policy',
      policyFile,
    ])
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
    expect(status.reason).to.contain(
      'image-registry-not-allowed: registry myprivateregistry.com:5000 of myprivateregistry.com:5000/nginx:alpine is not in the allowed registries',
    )
    expect(status.reason).to.contain('image-tag-missing: httpd has no tag')
    expect(status.auditAnnotations).to.deep.equal({
      decision: 'denied',
      'refused-images': 'myprivateregistry.com:5000/nginx:alpine,httpd',
    })
    const line = await backend.logged((entry) => entry.event === 'decision')
    expect(line).to.include({namespace: 'default', allowed: false})
  })

  it('allows pinned images from allowed registries, on / as on /image_policy', async () => {
    for (const endpoint of ['/image_policy', '/']) {
      const answer = JSON.parse(
        (await post(`${url}${endpoint}`, review(['nginx:1.27', `registry.k8s.io/pause@sha256:${'a'.repeat(64)}`]), tls))
          .body,
      )
      expect(answer).to.deep.equal({
        apiVersion: 'imagepolicy.k8s.io/v1alpha1',
        kind: 'ImageReview',
        status: {allowed: true, auditAnnotations: {decision: 'allowed'}},
      })
    }
  })

  it('kube-system is exempt by default', async () => {
    const answer = JSON.parse(
      (await post(`${url}/image_policy`, review(['quay.io/x/y:latest'], 'kube-system'), tls)).body,
    )
    expect(answer.status.allowed).to.equal(true)
    expect(answer.status.auditAnnotations.exempt).to.equal('namespace')
  })

  it('break-glass lets a refused pod through and is logged', async () => {
    const answer = JSON.parse(
      (
        await post(
          `${url}/image_policy`,
          review(['nginx:latest'], 'default', {'alpha.image-policy.k8s.io/break-glass': 'true'}),
          tls,
        )
      ).body,
    )
    expect(answer.status.allowed).to.equal(true)
    expect(answer.status.auditAnnotations).to.include({'break-glass': 'true'})
    expect(answer.status.reason).to.match(
      /^break-glass annotation alpha\.image-policy\.k8s\.io\/break-glass=true let refused images through: image-tag-latest/,
    )
    expect(await backend.logged((entry) => entry.event === 'break-glass' && entry.allowed === true)).not.to.equal(
      undefined,
    )
  })

  describe('bad requests get 4xx with a message, never 500 or a crash', () => {
    const cases: Array<[string, string | Buffer, number, RegExp, string?]> = [
      ['malformed JSON', '{"apiVersion": ', 400, /malformed JSON/],
      [
        'wrong kind',
        JSON.stringify({apiVersion: 'imagepolicy.k8s.io/v1alpha1', kind: 'Pod', spec: {}}),
        400,
        /kind must be ImageReview/,
      ],
      [
        'wrong apiVersion',
        JSON.stringify({apiVersion: 'v1', kind: 'ImageReview', spec: {}}),
        400,
        /apiVersion must be imagepolicy\.k8s\.io\/v1alpha1/,
      ],
      [
        'containers not a list',
        JSON.stringify({apiVersion: 'imagepolicy.k8s.io/v1alpha1', kind: 'ImageReview', spec: {containers: 'x'}}),
        400,
        /spec\.containers must be a list/,
      ],
      ['body over 1 MiB', Buffer.alloc(1024 * 1024 + 10, 32), 413, /over 1048576 bytes/],
      ['GET on the endpoint', '', 405, /POST an ImageReview/, 'GET'],
      [
        'a deeply nested spec.namespace',
        `{"apiVersion":"imagepolicy.k8s.io/v1alpha1","kind":"ImageReview","spec":{"namespace":${'['.repeat(5000)}${']'.repeat(5000)},"containers":[{"image":"nginx"}]}}`,
        400,
        /spec\.namespace must be a string/,
      ],
      [
        'an image that is not a string',
        JSON.stringify({
          apiVersion: 'imagepolicy.k8s.io/v1alpha1',
          kind: 'ImageReview',
          spec: {containers: [{image: {a: 1}}]},
        }),
        400,
        /spec\.containers\[0\]\.image must be a string/,
      ],
      [
        'a nested apiVersion',
        JSON.stringify({apiVersion: [[[['x']]]], kind: 'ImageReview', spec: {}}),
        400,
        /apiVersion must be imagepolicy\.k8s\.io\/v1alpha1, not a list"/,
      ],
      [
        '38,000 images',
        JSON.stringify({
          apiVersion: 'imagepolicy.k8s.io/v1alpha1',
          kind: 'ImageReview',
          spec: {containers: Array.from({length: 38_000}, (_, i) => ({image: `e.io/i${i}`}))},
        }),
        400,
        /spec\.containers has 38000 entries; at most 1000 are reviewed/,
      ],
    ]
    for (const [title, body, status, message, method] of cases) {
      it(title, async () => {
        const answer = await post(`${url}/image_policy`, body, tls, method)
        expect(answer.status).to.equal(status)
        expect(answer.body).to.match(message)
      })
    }
    it('many refused images: the answer names 20 and counts the rest, staying small', async () => {
      const answer = await post(
        `${url}/image_policy`,
        review(Array.from({length: 900}, (_, i) => `evil.example.com/i${i}:1`)),
        tls,
      )
      expect(answer.status).to.equal(200)
      expect(answer.body.length).to.be.lessThan(8000)
      const status = JSON.parse(answer.body).status
      expect(status.allowed).to.equal(false)
      expect(status.reason).to.match(/refused 900 images: .*… and 880 more$/)
    })

    it('no decision is logged as an internal error', () => {
      expect(backend.logs().filter((entry) => entry.event === 'internal-error')).to.deep.equal([])
      expect(backend.logs().filter((entry) => entry.event === 'rejected').length).to.be.greaterThan(5)
    })

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
    expect(
      (
        await post(`${url}/image_policy`, review(['nginx:1.27']), {
          ca: ca.caCertPem,
          cert: stranger.certPem,
          key: stranger.keyPem,
        })
      ).status,
    ).to.equal(401)
    expect(await post(`${url}/healthz`, '', {ca: ca.caCertPem}, 'GET')).to.deep.equal({status: 200, body: 'ok'})
  })

  it('reloads the policy when the file changes; an invalid policy keeps the old one', async () => {
    writeFileSync(policyFile, 'allowedRegistries: [docker.io, registry.k8s.io, "myprivateregistry.com:5000"]\n')
    const deadline = Date.now() + 5000
    let allowed = false
    while (!allowed && Date.now() < deadline) {
      allowed = JSON.parse(
        (await post(`${url}/image_policy`, review(['myprivateregistry.com:5000/nginx:alpine']), tls)).body,
      ).status.allowed
      if (!allowed) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(allowed).to.equal(true)
    writeFileSync(policyFile, 'allowedRegistries: "not a list"\n')
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(backend.logs().some((entry) => entry.event === 'policy-reload-failed')).to.equal(true)
    expect(
      JSON.parse((await post(`${url}/image_policy`, review(['myprivateregistry.com:5000/nginx:alpine']), tls)).body)
        .status.allowed,
    ).to.equal(true)
    writeFileSync(policyFile, 'allowedRegistries: [docker.io]\n')
    backend.process.kill('SIGHUP')
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(
      JSON.parse((await post(`${url}/image_policy`, review(['myprivateregistry.com:5000/nginx:alpine']), tls)).body)
        .status.allowed,
    ).to.equal(false)
  })

  it('stops within a moment of SIGTERM even while a kept-alive connection keeps polling it (the kubelet would wait out the grace period)', async () => {
    const own = await startBackend([
      '--cert',
      serving.certFile,
      '--key',
      serving.keyFile,
      '--client-ca',
      ca.caCertFile,
      '--policy',
      policyFile,
    ])
    const agent = new https.Agent({keepAlive: true, maxSockets: 1, ca: tls.ca, cert: tls.cert, key: tls.key})
    let answers = 0
    let polling = true
    const poll = async () => {
      while (polling) {
        const ok = await new Promise<boolean>((resolve) => {
          const request = https.get(`https://127.0.0.1:${own.port}/healthz`, {agent}, (response) => {
            response.resume()
            response.on('end', () => resolve(response.statusCode === 200))
          })
          request.on('error', () => resolve(false))
        })
        if (!ok) return
        answers++
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    const polled = poll()
    while (answers < 3) await new Promise((resolve) => setTimeout(resolve, 20))
    const started = Date.now()
    await own.stop()
    const took = Date.now() - started
    polling = false
    await polled
    agent.destroy()
    expect(answers).to.be.greaterThan(2)
    expect(took, 'ms from SIGTERM to exit').to.be.lessThan(3000)
  })

  it('a client built from the rendered webhook kubeconfig, as the API server builds it, gets the decision', async () => {
    const file = path.join(dir, 'webhook.kubeconfig')
    writeFileSync(
      file,
      renderWebhookKubeconfig({
        server: `${url}/image_policy`,
        caFile: ca.caCertFile,
        clientCertificate: client.certFile,
        clientKey: client.keyFile,
      }),
    )
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

describe('webhook serve: unusable files and addresses name the flag and the problem in words', () => {
  const CANARY = 'TopSecret99-webhook-canary'
  let ca: TestCa
  let serving: IssuedCert
  let other: IssuedCert
  let dir: string
  let garbage: string
  let encryptedKey: string
  before(async () => {
    ca = await createTestCa()
    serving = await ca.issue({cn: 'imgsec-webhook', ipAddresses: ['127.0.0.1']})
    other = await ca.issue({cn: 'other'})
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-webhook-files-'))
    garbage = path.join(dir, 'garbage.pem')
    writeFileSync(garbage, `password: ${CANARY}\n`)
    encryptedKey = path.join(dir, 'encrypted.key')
    await runProgram('openssl', [
      'pkey',
      '-in',
      serving.keyFile,
      '-aes256',
      '-passout',
      `pass:${CANARY}`,
      '-out',
      encryptedKey,
    ])
  })

  const serve = (args: string[]) => runCli(['webhook', 'serve', '--address', '127.0.0.1', '--port', '1', ...args])
  const cases: Array<{title: string; args: () => string[]; said: () => string | RegExp}> = [
    {
      title: 'a missing --cert',
      args: () => ['--cert', '/nope.crt', '--key', serving.keyFile],
      said: () => 'error: --cert /nope.crt cannot be read: no such file or directory\n',
    },
    {
      title: 'a missing --key',
      args: () => ['--cert', serving.certFile, '--key', '/nope.key'],
      said: () => 'error: --key /nope.key cannot be read: no such file or directory\n',
    },
    {
      title: 'a directory as --client-ca',
      args: () => ['--cert', serving.certFile, '--key', serving.keyFile, '--client-ca', dir],
      said: () => `error: --client-ca ${dir} cannot be read: it is a directory, not a file\n`,
    },
    {
      title: '--cert not PEM',
      args: () => ['--cert', garbage, '--key', serving.keyFile],
      said: () => `error: --cert ${garbage} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)\n`,
    },
    {
      title: '--key not PEM',
      args: () => ['--cert', serving.certFile, '--key', garbage],
      said: () => `error: --key ${garbage} is not a PEM private key (no "-----BEGIN PRIVATE KEY-----" block)\n`,
    },
    {
      title: '--cert and --key swapped',
      args: () => ['--cert', serving.keyFile, '--key', serving.certFile],
      said: () =>
        /^error: --cert \S+ is not a PEM certificate .*; it holds a private key \(--cert and --key swapped\?\)\n$/,
    },
    {
      title: "a key that is not the certificate's",
      args: () => ['--cert', serving.certFile, '--key', other.keyFile],
      said: () => `error: --key ${other.keyFile} is not the key of the certificate in --cert ${serving.certFile}\n`,
    },
    {
      title: 'an encrypted key',
      args: () => ['--cert', serving.certFile, '--key', encryptedKey],
      said: () => /^error: --key \S+ is encrypted with a passphrase; the backend needs an unencrypted key/,
    },
    {
      title: '--client-ca not PEM',
      args: () => ['--cert', serving.certFile, '--key', serving.keyFile, '--client-ca', garbage],
      said: () => `error: --client-ca ${garbage} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)\n`,
    },
  ]
  for (const {title, args, said} of cases) {
    it(title, async () => {
      const result = await serve(args())
      expect(result.code, result.stderr).to.equal(1)
      const expected = said()
      if (typeof expected === 'string') expect(result.stderr).to.equal(expected)
      else expect(result.stderr).to.match(expected)
      expect(result.stderr.trim().split('\n')).to.have.length(1)
      expect(result.stderr).not.to.match(/\bE[A-Z]{3,}\b|routines|--debug/)
      expect(result.stdout + result.stderr).not.to.contain(CANARY)
    })
  }

  it('beyond loopback without --client-ca is refused unless --allow-unauthenticated; the default address is 127.0.0.1', async () => {
    const refused = await runCli([
      'webhook',
      'serve',
      '--address',
      '0.0.0.0',
      '--port',
      '1',
      '--cert',
      serving.certFile,
      '--key',
      serving.keyFile,
    ])
    expect(refused.code).to.equal(1)
    expect(refused.stderr).to.equal(
      "error: --address 0.0.0.0 without --client-ca would answer anyone who reaches the port: pass --client-ca (the CA of the API server's client certificate), or --address 127.0.0.1, or --allow-unauthenticated to accept that\n",
    )
    const help = await runCli(['webhook', 'serve', '--help'])
    expect(help.stdout).to.match(/--address=<value>\s+\[default: 127\.0\.0\.1\]/)
  })

  it('a port in use: says so, naming --address and --port', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const {port} = blocker.address() as AddressInfo
    try {
      const result = await runCli([
        'webhook',
        'serve',
        '--address',
        '127.0.0.1',
        '--port',
        String(port),
        '--cert',
        serving.certFile,
        '--key',
        serving.keyFile,
      ])
      expect(result.code).to.equal(1)
      expect(result.stderr).to.equal(
        `error: cannot listen on --address 127.0.0.1 --port ${port}: the address is already in use (another process listens there)\n`,
      )
    } finally {
      blocker.close()
    }
  })

  it('takes --debug, as every error message suggests', async () => {
    const result = await serve(['--cert', '/nope.crt', '--key', '/nope.key', '--debug'])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.equal('error: --cert /nope.crt cannot be read: no such file or directory\n')
  })
})

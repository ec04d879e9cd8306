import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {httpsRequest, type TlsClient} from '../support/https-client.js'
import {dockerConfigJson, requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {buildTestImage, DEBIAN_LIKE, DISTROLESS_LIKE, layerOf, pushTestImage} from '../support/test-images.js'
import {type Backend, backendTls, review, startBackend} from '../support/webhook-process.js'

const USER = 'facts'
const PASSWORD = 'Webhook-Facts-Passw0rd-canary'

describe('webhook serve with requireNonRootImage, forbidShell, maxImageAgeDays (built CLI and bundle, real registry)', function () {
  this.timeout(120_000)
  let registry: RunningRegistry
  let silent: Server
  let silentHost: string
  let dir: string
  let tls: TlsClient
  let serveArgs: (policy: string) => string[]
  const digests: Record<string, string> = {}

  before(async function () {
    requireRegistry(this, 'webhook image-facts e2e')
    registry = await startRegistry({users: {[USER]: PASSWORD}})
    const credentials = {username: USER, password: PASSWORD}
    const debian = await layerOf(DEBIAN_LIKE)
    const distroless = await layerOf(DISTROLESS_LIKE)
    const recent = new Date().toISOString()
    const push = async (name: string, spec: Parameters<typeof buildTestImage>[0]) => {
      digests[name] = (await pushTestImage(registry, `team/${name}`, '1', buildTestImage(spec), credentials)).digest
    }
    await push('debian', {layers: [debian], created: recent})
    await push('distroless', {layers: [distroless], user: '65532', created: recent})
    await push('old', {layers: [distroless], user: '1000', created: '2019-03-01T12:00:00Z'})
    silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    silentHost = `127.0.0.1:${(silent.address() as {port: number}).port}`
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-webhook-facts-'))
    const dockerConfig = path.join(dir, 'config.json')
    writeFileSync(dockerConfig, dockerConfigJson(registry.host, USER, PASSWORD))
    const served = await backendTls(dir)
    tls = served.client
    serveArgs = (policy) => [
      ...served.args,
      '--policy',
      policy,
      '--docker-config',
      dockerConfig,
      '--image-facts-timeout',
      '2s',
    ]
  })
  after(async () => {
    await registry?.stop()
    silent?.close()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  const policyFile = (name: string, text: string) => {
    const file = path.join(dir, name)
    writeFileSync(file, `allowedRegistries: ["${registry.host}", "${silentHost}"]\n${text}`)
    return file
  }

  for (const entry of ['cli', 'bundle'] as const) {
    describe(entry === 'cli' ? 'kubectl imgsec webhook serve' : 'dist/imgsec-webhook.mjs (the static pod)', () => {
      let backend: Backend
      before(async () => {
        backend = await startBackend(
          entry,
          serveArgs(
            policyFile(`${entry}.yaml`, 'requireNonRootImage: true\nforbidShell: true\nmaxImageAgeDays: 365\n'),
          ),
        )
      })
      after(async () => backend?.stop())
      const decide = async (images: string[], namespace = 'shop') => {
        const answer = await httpsRequest(backend.url, tls, review(images, namespace))
        expect(answer.status).to.equal(200)
        return JSON.parse(answer.body).status as {allowed: boolean; reason?: string}
      }

      it('admits a non-root image without a shell, built recently, from a registry that needs credentials', async () => {
        const status = await decide([`${registry.host}/team/distroless@${digests.distroless}`])
        expect(status, status.reason).to.include({allowed: true})
      })

      it('refuses a root image with a shell, naming the image, the rule and the evidence', async () => {
        const image = `${registry.host}/team/debian@${digests.debian}`
        const status = await decide([image])
        expect(status.allowed).to.equal(false)
        expect(status.reason).to.match(
          new RegExp(
            `^image policy \\(kubectl-imgsec\\) refused 1 image: image-runs-as-root: ${image} sets no USER, so it runs as root \\(requireNonRootImage; admission cannot see the pod's runAsUser\\); image-has-shell: ${image} has a shell: [^;]*/bin/sh[^;]* \\(forbidShell\\)$`,
          ),
        )
      })

      it('refuses an old image with its created date; judges a tag by the digest it names now', async () => {
        const status = await decide([`${registry.host}/team/old:1`])
        expect(status.allowed).to.equal(false)
        expect(status.reason).to.match(
          new RegExp(
            `image-stale: ${registry.host}/team/old:1 \\(resolved to ${digests.old}\\) was built \\d+ days ago \\(created 2019-03-01T12:00:00Z\\), more than maxImageAgeDays \\(365\\)`,
          ),
        )
      })

      it('reads nothing for an exempt namespace', async () => {
        expect(await decide([`${silentHost}/app@sha256:${'d'.repeat(64)}`], 'kube-system')).to.include({allowed: true})
      })

      it('a registry that does not answer: refused within --image-facts-timeout (imageFactsFailurePolicy Fail, the default)', async () => {
        const started = Date.now()
        const image = `${silentHost}/app@sha256:${'c'.repeat(64)}`
        const status = await decide([image])
        expect(status.allowed).to.equal(false)
        expect(status.reason).to.match(
          new RegExp(
            `image-facts-unreadable: the contents of ${image} could not be read: .*2s \\(--image-facts-timeout\\).* \\(imageFactsFailurePolicy: Fail\\)`,
          ),
        )
        expect(Date.now() - started).to.be.lessThan(6000)
        expect(backend.output()).to.not.include(PASSWORD)
      })
    })
  }

  it('imageFactsFailurePolicy: Ignore admits what cannot be read, and logs it', async () => {
    const backend = await startBackend(
      'cli',
      serveArgs(policyFile('ignore.yaml', 'requireNonRootImage: true\nimageFactsFailurePolicy: Ignore\n')),
    )
    try {
      const image = `${silentHost}/app@sha256:${'e'.repeat(64)}`
      const answer = await httpsRequest(backend.url, tls, review([image]))
      expect(JSON.parse(answer.body).status).to.include({allowed: true})
      const deadline = Date.now() + 5000
      while (!backend.output().includes('"event":"image-facts-unreadable"') && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50))
      const line = backend
        .output()
        .split('\n')
        .find((text) => text.includes('"event":"image-facts-unreadable"'))
      expect(JSON.parse(line!)).to.include({level: 'warn', image, admitted: true})
    } finally {
      await backend.stop()
    }
  })
})

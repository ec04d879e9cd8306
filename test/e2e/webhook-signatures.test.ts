import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {generateKeyPair, signImage, type TestKeyPair} from '../support/cosign.js'
import {chainPem, createAuthority, issueLeaf, signWithCertificate, writeTrustedRoot} from '../support/keyless.js'
import {httpsRequest, type TlsClient} from '../support/https-client.js'
import {dockerConfigJson, requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {type Backend, backendTls, review, startBackend} from '../support/webhook-process.js'

const USER = 'admission'
const PASSWORD = 'Webhook-Sig-Passw0rd-canary'

describe('webhook serve with requireSignature (built CLI and bundle, real registry, cosign)', function () {
  this.timeout(120_000)
  let registry: RunningRegistry
  let silent: Server
  let silentHost: string
  let dir: string
  let tls: TlsClient
  let args: string[]
  let trustedKey: TestKeyPair
  let keylessSigned = false
  const digests: Record<string, string> = {}

  before(async function () {
    requireRegistry(this, 'webhook requireSignature e2e')
    registry = await startRegistry({users: {[USER]: PASSWORD}})
    const credentials = {username: USER, password: PASSWORD}
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-webhook-sig-'))
    const trusted = await generateKeyPair(dir, 'cosign')
    trustedKey = trusted
    const other = await generateKeyPair(dir, 'other')
    for (const name of ['signed', 'unsigned', 'stranger', 'late'])
      digests[name] = (await registry.pushImage(`team/${name}`, '1.0', credentials)).digest
    await signImage(registry, 'team/signed', digests.signed, trusted, credentials)
    await signImage(registry, 'team/stranger', digests.stranger, other, credentials)
    // Keyless: certificates from a test CA for the cosign key, the CA alone in the trusted root.
    const signingCa = await createAuthority('webhook test root')
    writeTrustedRoot(path.join(dir, 'trusted_root.json'), [signingCa])
    writeFileSync(path.join(dir, 'chain.pem'), chainPem(signingCa))
    for (const [name, email] of [
      ['release', 'release@example.com'],
      ['intruder', 'intruder@example.com'],
    ]) {
      digests[`keyless-${name}`] = (await registry.pushImage(`keyless/${name}`, '1.0', credentials)).digest
      const certificateFile = path.join(dir, `${name}.pem`)
      writeFileSync(
        certificateFile,
        await issueLeaf(signingCa, trusted.publicKeyFile, {san: `email:${email}`, issuer: 'https://issuer.example'}),
      )
      keylessSigned = await signWithCertificate(registry, `keyless/${name}`, digests[`keyless-${name}`], trusted, {
        certificateFile,
        chainFile: path.join(dir, 'chain.pem'),
        credentials,
      })
    }
    // A registry that accepts connections and never answers: the time budget must end the wait.
    silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    silentHost = `127.0.0.1:${(silent.address() as {port: number}).port}`
    const dockerConfig = path.join(dir, 'config.json')
    writeFileSync(dockerConfig, dockerConfigJson(registry.host, USER, PASSWORD))
    const policy = path.join(dir, 'policy.yaml')
    writeFileSync(
      policy,
      [
        'requireSignature:',
        `- repositories: ["${registry.host}/team", "${silentHost}"]`,
        '  keys: [cosign.pub]',
        `- repositories: ["${registry.host}/keyless"]`,
        '  keyless:',
        '    trustedRoot: trusted_root.json',
        '    identities: [{issuer: https://issuer.example, subject: release@example.com}]',
        '',
      ].join('\n'),
    )
    const served = await backendTls(dir)
    tls = served.client
    args = [...served.args, '--policy', policy, '--docker-config', dockerConfig, '--signature-timeout', '2s']
  })
  after(async () => {
    await registry?.stop()
    silent?.close()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  for (const entry of ['cli', 'bundle'] as const) {
    describe(entry === 'cli' ? 'kubectl imgsec webhook serve' : 'dist/imgsec-webhook.mjs (the static pod)', () => {
      let backend: Backend
      before(async () => {
        backend = await startBackend(entry, args)
      })
      after(async () => backend?.stop())
      const decide = async (images: string[]) => {
        const answer = await httpsRequest(backend.url, tls, review(images))
        expect(answer.status).to.equal(200)
        return JSON.parse(answer.body).status as {allowed: boolean; reason?: string}
      }

      it('admits an image signed by the trusted key, pinned by digest', async () => {
        const status = await decide([`${registry.host}/team/signed@${digests.signed}`])
        expect(status, status.reason).to.include({allowed: true})
      })

      it('refuses a tag-only image of a covered repository: pin by digest to verify', async () => {
        const status = await decide([`${registry.host}/team/signed:1.0`])
        expect(status.allowed).to.equal(false)
        expect(status.reason).to.equal(
          `image policy (kubectl-imgsec) refused 1 image: image-signature-missing: ${registry.host}/team/signed:1.0 is not pinned by digest: pin by digest to verify its signature (requireSignature)`,
        )
      })

      it('refuses an unsigned image and one signed by another key, saying why', async () => {
        const status = await decide([
          `${registry.host}/team/unsigned@${digests.unsigned}`,
          `${registry.host}/team/stranger@${digests.stranger}`,
        ])
        expect(status.allowed).to.equal(false)
        expect(status.reason).to.include(
          `image-signature-missing: ${registry.host}/team/unsigned@${digests.unsigned} has no signature (requireSignature)`,
        )
        expect(status.reason).to.match(
          new RegExp(
            `image-signature-invalid: ${registry.host}/team/stranger@${digests.stranger}: signature sha256:[a-f0-9]{12} is not by a trusted key`,
          ),
        )
      })

      it('keyless: admits a certificate of the trusted identity, refuses another identity saying which', async function () {
        if (!keylessSigned) this.skip()
        const release = `${registry.host}/keyless/release@${digests['keyless-release']}`
        expect(await decide([release])).to.include({allowed: true})
        const intruder = `${registry.host}/keyless/intruder@${digests['keyless-intruder']}`
        const status = await decide([intruder])
        expect(status.allowed).to.equal(false)
        expect(status.reason).to.match(
          new RegExp(
            `image-signature-invalid: ${intruder}: signature sha256:[a-f0-9]{12} has a certificate for intruder@example\\.com \\(issuer https://issuer\\.example\\), which matches none of: subject release@example\\.com, issuer https://issuer\\.example`,
          ),
        )
      })

      it('after reading from the registry, stops within a moment of SIGTERM (kept-alive registry sockets do not hold the process)', async () => {
        const own = await startBackend(entry, args)
        const answer = await httpsRequest(own.url, tls, review([`${registry.host}/team/signed@${digests.signed}`]))
        expect(JSON.parse(answer.body).status, answer.body).to.include({allowed: true})
        const started = Date.now()
        await own.stop()
        expect(Date.now() - started, 'ms from SIGTERM to exit').to.be.lessThan(3000)
        expect(own.child.exitCode).to.equal(0)
      })

      it('does not ask for signatures outside the covered repositories', async () => {
        expect(await decide(['docker.io/library/nginx:1.27'])).to.include({allowed: true})
      })

      it('a registry that does not answer is refused within the time budget (fail closed)', async () => {
        const started = Date.now()
        const status = await decide([`${silentHost}/app@sha256:${'c'.repeat(64)}`])
        expect(status.allowed).to.equal(false)
        expect(status.reason).to.match(
          new RegExp(
            `image-signature-missing: the signature of ${silentHost}/app@sha256:c{64} could not be checked: .*did not answer within 2s \\(--signature-timeout\\)`,
          ),
        )
        expect(Date.now() - started).to.be.lessThan(6000)
        expect(backend.output()).to.not.include(PASSWORD)
      })
    })
  }

  // Last (mocha runs a suite's own tests before its nested suites): it stops the registry.
  describe('the cache', () => {
    it('verified digests are cached: admitted while the registry is down; refusals are not cached', async () => {
      const backend = await startBackend('cli', args)
      try {
        const decide = async (image: string) =>
          JSON.parse((await httpsRequest(backend.url, tls, review([image]))).body).status as {
            allowed: boolean
            reason?: string
          }
        const signed = `${registry.host}/team/signed@${digests.signed}`
        const late = `${registry.host}/team/late@${digests.late}`
        expect((await decide(late)).allowed).to.equal(false)
        // Signed after the refusal: admitted on the next try.
        await signImage(registry, 'team/late', digests.late, trustedKey, {username: USER, password: PASSWORD})
        expect((await decide(late)).allowed).to.equal(true)
        expect((await decide(signed)).allowed).to.equal(true)
        await registry.stop()
        expect((await decide(signed)).allowed).to.equal(true)
        const unverified = await decide(`${registry.host}/team/unsigned@${digests.unsigned}`)
        expect(unverified.allowed).to.equal(false)
        expect(unverified.reason).to.include('could not be checked')
      } finally {
        await backend.stop()
      }
    })
  })
})

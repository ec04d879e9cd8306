import {expect} from 'chai'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {UserError} from '../../../src/lib/errors.js'
import {readTrustedKey, type TrustedKey} from '../../../src/lib/signature/trusted-keys.js'
import {judgeSignatures, verifyImageSignature} from '../../../src/lib/signature/verify.js'
import {
  generateKeyPair,
  pushTagSignature,
  signImage,
  simpleSigningPayload,
  type TestKeyPair,
} from '../../support/cosign.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../../support/registry.js'

const USER = 'sig_user'
const PASSWORD = 'S1gn-Pa55w0rd!'

describe('verifyImageSignature against a real registry (cosign tag scheme)', function () {
  this.timeout(120_000)
  let registry: RunningRegistry
  let authed: RunningRegistry
  let dir: string
  let trusted: TestKeyPair
  let other: TestKeyPair
  let key: TrustedKey
  const connection = {connection: {timeoutMs: 15_000}}
  const image = async (repository: string, on = registry) => {
    const {digest} = await on.pushImage(
      repository,
      'v1',
      on === authed ? {username: USER, password: PASSWORD} : undefined,
    )
    return {registry: on.host, repository, digest}
  }

  before(async function () {
    requireRegistry(this, 'the verify tests')
    dir = mkdtempSync(join(tmpdir(), 'imgsec-sig-'))
    ;[registry, authed] = await Promise.all([startRegistry(), startRegistry({users: {[USER]: PASSWORD}})])
    trusted = await generateKeyPair(dir, 'trusted')
    other = await generateKeyPair(dir, 'other')
    key = readTrustedKey(trusted.publicKeyFile)
  })
  after(async () => {
    await Promise.all([registry?.stop(), authed?.stop()])
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('verifies an image signed by the trusted key, naming the key', async () => {
    const signed = await image('sig/valid')
    await signImage(registry, signed.repository, signed.digest, trusted)
    const verdict = await verifyImageSignature(signed, {keys: [key]}, connection)
    expect(verdict).to.deep.equal({
      image: `${registry.host}/sig/valid@${signed.digest}`,
      status: 'verified',
      key: trusted.publicKeyFile,
      source: 'tag',
      reasons: [],
    })
  })

  it('an unsigned image is missing its signature', async () => {
    const unsigned = await image('sig/unsigned')
    const verdict = await verifyImageSignature(unsigned, {keys: [key]}, connection)
    expect(verdict.status).to.equal('missing')
    expect(verdict.reasons).to.deep.equal([])
  })

  it('refuses an image signed by another key, saying which keys were tried', async () => {
    const signed = await image('sig/other-key')
    await signImage(registry, signed.repository, signed.digest, other)
    const verdict = await verifyImageSignature(signed, {keys: [key]}, connection)
    expect(verdict.status).to.equal('invalid')
    expect(verdict.reasons).to.have.length(1)
    expect(verdict.reasons[0]).to.match(
      new RegExp(`^signature sha256:[a-f0-9]{12} is not by a trusted key \\(tried ${trusted.publicKeyFile}\\)$`),
    )
  })

  it('passes when any of several trusted keys signed it', async () => {
    const signed = await image('sig/second-key')
    await signImage(registry, signed.repository, signed.digest, other)
    const verdict = await verifyImageSignature(signed, {keys: [key, readTrustedKey(other.publicKeyFile)]}, connection)
    expect(verdict.status).to.equal('verified')
    expect(verdict.key).to.equal(other.publicKeyFile)
  })

  it('refuses a valid signature copied from another image (its payload names the other digest)', async () => {
    const source = await image('sig/copy')
    const target = {...source, digest: (await registry.pushImage('sig/copy', 'v2')).digest}
    await signImage(registry, source.repository, source.digest, trusted)
    const sigTag = `${source.digest.replace(':', '-')}.sig`
    const copied = await registry.getManifest(source.repository, sigTag)
    await registry.pushManifest(source.repository, `${target.digest.replace(':', '-')}.sig`, {
      bytes: copied.body,
      mediaType: String(copied.headers['content-type']),
    })
    const verdict = await verifyImageSignature(target, {keys: [key]}, connection)
    expect(verdict.status).to.equal('invalid')
    expect(verdict.reasons).to.have.length(1)
    expect(verdict.reasons[0]).to.include(
      `by ${trusted.publicKeyFile}: the signature is for another image digest (${source.digest})`,
    )
  })

  it('refuses a tampered payload (the signature no longer verifies)', async () => {
    const signed = await image('sig/tampered')
    await signImage(registry, signed.repository, signed.digest, trusted)
    const manifest = JSON.parse(
      (await registry.getManifest(signed.repository, `${signed.digest.replace(':', '-')}.sig`)).body.toString(),
    ) as {layers: Array<{digest: string; annotations: Record<string, string>}>}
    const original = await registry.getBlob(signed.repository, manifest.layers[0].digest)
    const tampered = Buffer.from(original.toString().replace('"optional":null', '"optional":{"creator":"attacker"}'))
    expect(tampered.equals(original)).to.equal(false)
    await pushTagSignature(registry, signed.repository, signed.digest, [
      {payload: tampered, signature: manifest.layers[0].annotations['dev.cosignproject.cosign/signature']},
    ])
    const verdict = await verifyImageSignature(signed, {keys: [key]}, connection)
    expect(verdict.status).to.equal('invalid')
    expect(verdict.reasons[0]).to.match(/is not by a trusted key/)
  })

  it('refuses a signature by the trusted key over another repository', async () => {
    const local = await generateKeyPair(dir, 'local-p256', 'rsa')
    const signed = await image('sig/repo')
    const payload = simpleSigningPayload(`${registry.host}/sig/elsewhere`, signed.digest)
    const {sign} = await import('node:crypto')
    await pushTagSignature(registry, signed.repository, signed.digest, [
      {payload, signature: sign('sha256', payload, local.privateKey!)},
    ])
    const verdict = await verifyImageSignature(signed, {keys: [readTrustedKey(local.publicKeyFile)]}, connection)
    expect(verdict.status).to.equal('invalid')
    expect(verdict.reasons[0]).to.include(`the signature is for another repository (${registry.host}/sig/elsewhere)`)
  })

  for (const type of ['ed25519', 'rsa'] as const) {
    it(`verifies a ${type} signature`, async () => {
      const pair = await generateKeyPair(dir, `k-${type}`, type)
      const signed = await image(`sig/${type}`)
      await signImage(registry, signed.repository, signed.digest, pair)
      const verdict = await verifyImageSignature(signed, {keys: [readTrustedKey(pair.publicKeyFile)]}, connection)
      expect(verdict.status).to.equal('verified')
      // Another key of the same kind does not verify it.
      const stranger = await generateKeyPair(dir, `s-${type}`, type)
      expect(
        (await verifyImageSignature(signed, {keys: [readTrustedKey(stranger.publicKeyFile)]}, connection)).status,
      ).to.equal('invalid')
    })
  }

  it('reports a signature layer without the signature annotation', async () => {
    const signed = await image('sig/no-annotation')
    await pushTagSignature(registry, signed.repository, signed.digest, [
      {payload: simpleSigningPayload(`${registry.host}/sig/no-annotation`, signed.digest), signature: '!!'},
    ])
    const verdict = await verifyImageSignature(signed, {keys: [key]}, connection)
    expect(verdict.status).to.equal('invalid')
    expect(verdict.reasons[0]).to.match(
      /^layer sha256:[a-f0-9]{64} of sha256-[a-f0-9]{64}\.sig has no dev\.cosignproject\.cosign\/signature$/,
    )
  })

  it('verifies an image behind auth with credentials, and says who was refused without', async () => {
    const credentials = {username: USER, password: PASSWORD}
    const signed = await image('sig/private', authed)
    await signImage(authed, signed.repository, signed.digest, trusted, credentials)
    const unauthorized = () => (authed.logs().match(/"GET \/v2\/sig\/private\/\S+ HTTP\/1\.1" 401 /g) ?? []).length
    const before = unauthorized()
    const verdict = await verifyImageSignature(signed, {keys: [key]}, {...connection, credentials})
    expect(verdict.status).to.equal('verified')
    // One auth flow for the repository: the signature manifest is refused once, the blob read with its credentials.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(unauthorized() - before).to.equal(1)
    try {
      await verifyImageSignature(signed, {keys: [key]}, connection)
      expect.fail('read a private repository anonymously')
    } catch (error) {
      expect(error).to.be.instanceOf(UserError)
      expect((error as Error).message).to.equal(
        `cannot read ${authed.host}/sig/private: the registry refused anonymous access (HTTP 401); give credentials with --docker-config`,
      )
    }
    try {
      await verifyImageSignature(
        signed,
        {keys: [key]},
        {
          ...connection,
          credentials: {username: USER, password: 'wrong-canary-pw'},
        },
      )
      expect.fail('accepted a wrong password')
    } catch (error) {
      expect((error as Error).message).to.include(`the registry refused user "${USER}" (HTTP 401)`)
      expect((error as Error).message).to.not.include('wrong-canary-pw')
    }
  })
})

describe('judgeSignatures', () => {
  it('no signature and no problem is missing; problems alone are invalid', () => {
    const image = {registry: 'r', repository: 'x', digest: `sha256:${'a'.repeat(64)}`}
    expect(judgeSignatures(image, [], {keys: []})).to.deep.equal({status: 'missing', reasons: []})
    expect(judgeSignatures(image, [], {keys: []}, ['bad layer'])).to.deep.equal({
      status: 'invalid',
      reasons: ['bad layer'],
    })
  })
})

import {expect} from 'chai'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {readTrustedKey, type TrustedKey} from '../../../src/lib/signature/trusted-keys.js'
import {judgeBundle, statementMismatch} from '../../../src/lib/signature/sigstore-bundle.js'
import {verifyImageSignature} from '../../../src/lib/signature/verify.js'
import {cosignBinary, generateKeyPair, signImageBundle, type TestKeyPair} from '../../support/cosign.js'
import {type ReferrersProxy, startReferrersProxy} from '../../support/referrers-proxy.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../../support/registry.js'

const DIGEST = `sha256:${'a'.repeat(64)}`
const statement = (predicateType: string, hex = 'a'.repeat(64)) =>
  Buffer.from(
    JSON.stringify({_type: 'https://in-toto.io/Statement/v1', subject: [{digest: {sha256: hex}}], predicateType}),
  )

describe('Sigstore bundles', () => {
  describe('statementMismatch', () => {
    const cases: Array<[string, string, Buffer, string | undefined]> = [
      ['the image', 'application/vnd.in-toto+json', statement('https://sigstore.dev/cosign/sign/v1'), undefined],
      [
        'another digest',
        'application/vnd.in-toto+json',
        statement('https://sigstore.dev/cosign/sign/v1', 'b'.repeat(64)),
        `the signature is for another image digest (sha256:${'b'.repeat(64)})`,
      ],
      [
        'an attestation',
        'application/vnd.in-toto+json',
        statement('https://slsa.dev/provenance/v1'),
        'the bundle is not a cosign signature (predicateType https://sigstore.dev/cosign/sign/v1)',
      ],
      [
        'another payload type',
        'text/plain',
        statement('x'),
        'the bundle signs a text/plain payload, not an in-toto statement',
      ],
      ['not JSON', 'application/vnd.in-toto+json', Buffer.from('{'), 'the signed statement is not JSON'],
      [
        'no subject',
        'application/vnd.in-toto+json',
        Buffer.from('{"predicateType":"https://sigstore.dev/cosign/sign/v1"}'),
        'the statement names no digest',
      ],
    ]
    for (const [label, type, payload, expected] of cases)
      it(`${label} → ${expected ?? 'matches'}`, () =>
        expect(statementMismatch(type, payload, DIGEST)).to.equal(expected))
  })

  it('judgeBundle refuses what is not a bundle', () => {
    expect(judgeBundle({nope: true}, DIGEST, {keys: []})).to.deep.equal({reason: 'is not a Sigstore bundle'})
    expect(judgeBundle(undefined, DIGEST, {keys: []})).to.deep.equal({reason: 'is not a Sigstore bundle'})
  })

  describe('cosign sign --new-bundle-format against a real registry', function () {
    this.timeout(120_000)
    let registry: RunningRegistry
    let proxy: ReferrersProxy
    let dir: string
    let trusted: TestKeyPair
    let other: TestKeyPair
    let key: TrustedKey
    const connection = {connection: {timeoutMs: 15_000}}
    before(async function () {
      requireRegistry(this, 'bundle tests')
      if (!cosignBinary()) this.skip()
      dir = mkdtempSync(join(tmpdir(), 'imgsec-bundle-'))
      registry = await startRegistry()
      proxy = await startReferrersProxy(registry)
      trusted = await generateKeyPair(dir, 'trusted')
      other = await generateKeyPair(dir, 'other')
      key = readTrustedKey(trusted.publicKeyFile)
    })
    after(async () => {
      await proxy?.close()
      await registry?.stop()
      if (dir) rmSync(dir, {recursive: true, force: true})
    })

    it('a registry without the referrers API: found through the sha256-<hex> tag fallback and verified', async () => {
      const {digest} = await registry.pushImage('bundle/valid', 'v1')
      expect(await signImageBundle(registry, 'bundle/valid', digest, trusted)).to.equal(true)
      const verdict = await verifyImageSignature(
        {registry: registry.host, repository: 'bundle/valid', digest},
        {keys: [key]},
        connection,
      )
      expect(verdict).to.include({status: 'verified', key: trusted.publicKeyFile, source: 'referrers-tag'})
    })

    it('a registry with the referrers API (a proxy serving it): found through GET /v2/<name>/referrers/<digest>', async () => {
      const {digest} = await registry.pushImage('bundle/api', 'v1')
      await signImageBundle(registry, 'bundle/api', digest, trusted)
      const before = proxy.referrersRequests()
      const verdict = await verifyImageSignature(
        {registry: proxy.host, repository: 'bundle/api', digest},
        {keys: [key]},
        connection,
      )
      expect(verdict).to.include({status: 'verified', source: 'referrers'})
      expect(proxy.referrersRequests()).to.equal(before + 1)
      // Unsigned behind the same API: an empty referrers list is no signature.
      const unsigned = await registry.pushImage('bundle/api', 'v2')
      expect(
        (
          await verifyImageSignature(
            {registry: proxy.host, repository: 'bundle/api', digest: unsigned.digest},
            {keys: [key]},
            connection,
          )
        ).status,
      ).to.equal('missing')
    })

    it('a bundle by another key is invalid, naming the bundle and the keys tried', async () => {
      const {digest} = await registry.pushImage('bundle/other', 'v1')
      await signImageBundle(registry, 'bundle/other', digest, other)
      const verdict = await verifyImageSignature(
        {registry: registry.host, repository: 'bundle/other', digest},
        {keys: [key]},
        connection,
      )
      expect(verdict.status).to.equal('invalid')
      expect(verdict.reasons).to.have.length(1)
      expect(verdict.reasons[0]).to.match(
        new RegExp(`^bundle sha256:[a-f0-9]{12} is not by a trusted key \\(tried ${trusted.publicKeyFile}\\)$`),
      )
    })

    it('a bundle copied from another image is invalid: its statement names the other digest', async () => {
      const source = await registry.pushImage('bundle/copy', 'v1')
      const target = await registry.pushImage('bundle/copy', 'v2')
      await signImageBundle(registry, 'bundle/copy', source.digest, trusted)
      const index = await registry.getManifest('bundle/copy', source.digest.replace(':', '-'))
      await registry.pushManifest('bundle/copy', target.digest.replace(':', '-'), {
        bytes: index.body,
        mediaType: 'application/vnd.oci.image.index.v1+json',
      })
      const verdict = await verifyImageSignature(
        {registry: registry.host, repository: 'bundle/copy', digest: target.digest},
        {keys: [key]},
        connection,
      )
      expect(verdict.status).to.equal('invalid')
      expect(verdict.reasons[0]).to.match(
        new RegExp(
          `^bundle sha256:[a-f0-9]{12} by ${trusted.publicKeyFile}: the signature is for another image digest \\(${source.digest}\\)$`,
        ),
      )
    })
  })
})

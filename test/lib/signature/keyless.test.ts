import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {generateKeyPairSync, type KeyObject, sign} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {
  type CertificateIdentity,
  describeIdentity,
  identityProblem,
  type KeylessTrust,
  matchIdentity,
  trustMaterial,
} from '../../../src/lib/signature/keyless.js'
import {readTrustedKey} from '../../../src/lib/signature/trusted-keys.js'
import {readTrustedRoot} from '../../../src/lib/signature/trusted-root.js'
import {judgeSignatures, type SignatureTrust, verifyImageSignature} from '../../../src/lib/signature/verify.js'
import {
  cosignBinary,
  generateKeyPair,
  signImage,
  signImageBundle,
  simpleSigningPayload,
  type TestKeyPair,
} from '../../support/cosign.js'
import {
  chainPem,
  cosignVerifiesKeyless,
  createAuthority,
  issueLeaf,
  type LeafOptions,
  signWithCertificate,
  type TestAuthority,
  writeTrustedRoot,
} from '../../support/keyless.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../../support/registry.js'

const execFileAsync = promisify(execFile)
const ISSUER = 'https://issuer.example'
const EMAIL = 'dev@example.com'
const WORKFLOW = 'https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main'
const ACTIONS = 'https://token.actions.githubusercontent.com'

describe('keyless signatures', () => {
  describe('identityProblem', () => {
    const cases: Array<[CertificateIdentity, string | undefined]> = [
      [{issuer: ISSUER, subject: EMAIL}, undefined],
      [{issuerRegExp: '^https://', subjectRegExp: '@example\\.com$'}, undefined],
      [{issuer: ISSUER}, 'needs subject (exact) or subjectRegExp'],
      [{subject: EMAIL}, 'needs issuer (exact) or issuerRegExp'],
      [{issuer: ISSUER, subject: EMAIL, subjectRegExp: '.'}, 'give subject or subjectRegExp, not both'],
      [{issuer: ISSUER, issuerRegExp: '.', subject: EMAIL}, 'give issuer or issuerRegExp, not both'],
      [{issuer: '', subject: EMAIL}, 'issuer must not be empty'],
      [{issuer: ISSUER, subjectRegExp: '('}, 'subjectRegExp is not a valid regular expression'],
    ]
    for (const [identity, expected] of cases)
      it(`${JSON.stringify(identity)} → ${expected ?? 'usable'}`, () =>
        expect(identityProblem(identity)).to.equal(expected))
  })

  describe('matchIdentity', () => {
    const cases: Array<[CertificateIdentity, string[], string | undefined, string | undefined]> = [
      [{issuer: ISSUER, subject: EMAIL}, [EMAIL], ISSUER, EMAIL],
      [{issuer: ISSUER, subject: EMAIL}, ['other@example.com'], ISSUER, undefined],
      [{issuer: ISSUER, subject: EMAIL}, [EMAIL], 'https://other.example', undefined],
      [{issuer: ISSUER, subject: EMAIL}, [EMAIL], undefined, undefined],
      // Exact means exact: a dot is no wildcard (unlike String.prototype.match).
      [{issuer: ISSUER, subject: 'dev@example.com'}, ['dev@exampleXcom'], ISSUER, undefined],
      [{issuerRegExp: '^https://token\\.', subjectRegExp: '^https://github\\.com/org/'}, [WORKFLOW], ACTIONS, WORKFLOW],
      // Unanchored, as cosign's regular expressions: anchor them to mean the whole name.
      [
        {issuer: ACTIONS, subjectRegExp: 'github\\.com/org/'},
        [`https://evil.example/${WORKFLOW}`],
        ACTIONS,
        `https://evil.example/${WORKFLOW}`,
      ],
      [
        {issuer: ACTIONS, subjectRegExp: '^https://github\\.com/org/'},
        [`https://evil.example/${WORKFLOW}`],
        ACTIONS,
        undefined,
      ],
      [{issuer: ISSUER, subject: EMAIL}, ['x@example.com', EMAIL], ISSUER, EMAIL],
    ]
    for (const [identity, subjects, issuer, expected] of cases)
      it(`${describeIdentity(identity)} against ${subjects.join(',')} (${issuer}) → ${expected ?? 'no match'}`, () =>
        expect(matchIdentity(identity, subjects, issuer)).to.equal(expected))
  })

  describe('readTrustedRoot', () => {
    let dir: string
    before(() => (dir = mkdtempSync(join(tmpdir(), 'imgsec-root-'))))
    after(() => rmSync(dir, {recursive: true, force: true}))
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text)
      return join(dir, name)
    }
    it('refuses what is not a trusted root, naming the flag and file, never quoting it', () => {
      const cases: Array<[string, string, RegExp]> = [
        ['a.json', '{"canary-secret": ', /^--trusted-root ".*a\.json" is not JSON \(line 1, column \d+/],
        [
          'b.json',
          '["canary-secret"]',
          /is not a Sigstore trusted root \(a JSON object with certificateAuthorities\)$/,
        ],
        ['c.json', '{"mediaType": "canary-secret"}', /has no certificateAuthorities: keyless certificates need the CA/],
        [
          'd.json',
          '{"certificateAuthorities": [{"certChain": {"certificates": [{"rawBytes": "Y2FuYXJ5LXNlY3JldA=="}]}}]}',
          /is not a readable Sigstore trusted root/,
        ],
      ]
      for (const [name, text, pattern] of cases) {
        const file = write(name, text)
        expect(() => readTrustedRoot(file))
          .to.throw(pattern)
          .and.satisfy((error: Error) => !error.message.includes('canary'))
      }
      expect(() => readTrustedRoot(join(dir, 'missing.json'))).to.throw(/--trusted-root ".*missing\.json"/)
    })

    it('checks every certificate and key in it (authorities, timestamp authorities, tlogs, ctlogs) as @sigstore/verify would read them', async () => {
      const ca = await createAuthority('light check')
      const good = JSON.parse(readFileSync(writeTrustedRoot(join(dir, 'good.json'), [ca]), 'utf8'))
      const spki = Buffer.from(
        generateKeyPairSync('ec', {namedCurve: 'prime256v1'}).publicKey.export({type: 'spki', format: 'der'}),
      ).toString('base64')
      const log = (rawBytes: string, start = '2026-01-01T00:00:00Z') => ({
        baseUrl: 'https://log.example',
        hashAlgorithm: 'SHA2_256',
        publicKey: {rawBytes, keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: {start}},
        logId: {keyId: 'AAAA'},
      })
      const withLogs = {
        ...good,
        tlogs: [log(spki)],
        ctlogs: [log(spki)],
        timestampAuthorities: good.certificateAuthorities,
      }
      const root = readTrustedRoot(write('logs.json', JSON.stringify(withLogs)))
      // What passed node's parsers is what the Sigstore library reads.
      const material = trustMaterial(root)
      expect(material.certificateAuthorities).to.have.length(1)
      expect(material.timestampAuthorities).to.have.length(1)
      expect(Object.keys(material.tlogs)).to.have.length(1)
      const broken: Array<[string, unknown]> = [
        ['tlog key', {...withLogs, tlogs: [log('Y2FuYXJ5LXNlY3JldA==')]}],
        ['ctlog key', {...withLogs, ctlogs: [log('not base64 canary-secret!')]}],
        ['tlog date', {...withLogs, tlogs: [log(spki, 'canary-secret')]}],
        ['timestamp authority', {...withLogs, timestampAuthorities: [{certChain: {certificates: []}}]}],
        ['list', {...withLogs, tlogs: 'canary-secret'}],
        ['certificate entry', {...good, certificateAuthorities: [{certChain: {certificates: ['canary-secret']}}]}],
      ]
      for (const [what, json] of broken)
        expect(() => readTrustedRoot(write(`${what}.json`, JSON.stringify(json))), what)
          .to.throw(/is not a readable Sigstore trusted root/)
          .and.satisfy((error: Error) => !error.message.includes('canary'))
    })
  })

  describe('judgeSignatures on certificates made in-process (what cosign would not sign with)', () => {
    let dir: string
    let ca: TestAuthority
    let trustFor: SignatureTrust
    let publicKeyFile: string
    let privateKey: KeyObject
    const target = {registry: 'registry.example.com', repository: 'team/app', digest: `sha256:${'d'.repeat(64)}`}
    const payload = simpleSigningPayload(`${target.registry}/${target.repository}`, target.digest)
    const judge = async (leaf: Partial<LeafOptions> | string) => {
      const certificate =
        typeof leaf === 'string'
          ? leaf
          : await issueLeaf(ca, publicKeyFile, {san: `email:${EMAIL}`, issuer: ISSUER, ...leaf})
      const signature = {
        payload,
        signature: sign('sha256', payload, privateKey),
        layer: `sha256:${'e'.repeat(64)}`,
        certificate,
      }
      return judgeSignatures(target, [signature], trustFor)
    }
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'imgsec-keyless-unit-'))
      ca = await createAuthority('unit root')
      const pair = generateKeyPairSync('ec', {namedCurve: 'prime256v1'})
      privateKey = pair.privateKey
      publicKeyFile = join(dir, 'leaf.pub')
      writeFileSync(publicKeyFile, String(pair.publicKey.export({type: 'spki', format: 'pem'})))
      trustFor = {
        keys: [],
        keyless: {
          root: readTrustedRoot(writeTrustedRoot(join(dir, 'root.json'), [ca])),
          identities: [{issuer: ISSUER, subject: EMAIL}],
        },
      }
    })
    after(() => rmSync(dir, {recursive: true, force: true}))

    it('the issuer in the legacy extension 1.3.6.1.4.1.57264.1.1 alone, or in .1.8 alone', async () => {
      for (const issuerExtensions of ['legacy', 'v2'] as const)
        expect(await judge({issuerExtensions}), issuerExtensions).to.deep.include({
          status: 'verified',
          identity: EMAIL,
          issuer: ISSUER,
        })
    })

    it('no issuer extension, a certificate not for code signing, a certificate that is not PEM: refused, saying which', async () => {
      expect((await judge({issuer: undefined})).reasons[0]).to.include(
        `has a certificate for ${EMAIL} (issuer none: no OIDC issuer extension)`,
      )
      expect((await judge({noCodeSigning: true})).reasons[0]).to.match(/has a certificate not meant for code signing/)
      expect((await judge('-----BEGIN CERTIFICATE-----\nY2FuYXJ5\n-----END CERTIFICATE-----\n')).reasons[0]).to.match(
        /has a certificate that is not a readable PEM certificate$/,
      )
    })

    it('a trusted root the library cannot read (changed after it was checked) refuses, naming the file', async () => {
      const root = {...trustFor.keyless!.root, text: '{"canary-secret": '}
      const certificate = await issueLeaf(ca, publicKeyFile, {san: `email:${EMAIL}`, issuer: ISSUER})
      const verdict = judgeSignatures(
        target,
        [{payload, signature: sign('sha256', payload, privateKey), layer: 'sha256:ff', certificate}],
        {keys: [], keyless: {...trustFor.keyless!, root}},
      )
      expect(verdict.status).to.not.equal('verified')
      expect(verdict.reasons[0]).to.match(/cannot be checked: .*root\.json is not a readable Sigstore trusted root$/)
      expect(verdict.reasons.join()).to.not.include('canary')
    })

    it('a signature over another payload does not verify with the certificate', async () => {
      const certificate = await issueLeaf(ca, publicKeyFile, {san: `email:${EMAIL}`, issuer: ISSUER})
      const other = Buffer.from('{"critical":{}}')
      const verdict = judgeSignatures(
        target,
        [{payload, signature: sign('sha256', other, privateKey), layer: 'sha256:ff', certificate}],
        trustFor,
      )
      expect(verdict.reasons[0]).to.match(/does not verify with its certificate \(signature verification failed\)$/)
    })
  })

  describe('cosign sign --certificate against a real registry, cross-checked with cosign verify', function () {
    this.timeout(180_000)
    let registry: RunningRegistry
    let dir: string
    let signer: TestKeyPair
    let keySigner: TestKeyPair
    let ca: TestAuthority
    let stranger: TestAuthority
    let rootFile: string
    const digests: Record<string, string> = {}
    const connection = {connection: {timeoutMs: 15_000}}
    const image = (name: string) => ({registry: registry.host, repository: `keyless/${name}`, digest: digests[name]})
    const reference = (name: string) => `${registry.host}/keyless/${name}@${digests[name]}`
    const trust = (identities: CertificateIdentity[], keys: SignatureTrust['keys'] = []): SignatureTrust => ({
      keys,
      keyless: {root: readTrustedRoot(rootFile), identities} satisfies KeylessTrust,
    })
    const sign = async (name: string, authority: TestAuthority, leaf: LeafOptions, bundle = false) => {
      digests[name] = (await registry.pushImage(`keyless/${name}`, 'v1')).digest
      const certificateFile = join(dir, `${name}.pem`)
      const chainFile = join(dir, `${name}-chain.pem`)
      writeFileSync(certificateFile, await issueLeaf(authority, signer.publicKeyFile, leaf))
      writeFileSync(chainFile, chainPem(authority))
      await signWithCertificate(registry, `keyless/${name}`, digests[name], signer, {
        certificateFile,
        chainFile,
        bundle,
      })
    }
    const cosignSays = (name: string, identity: string[], issuer: string[], bundle = false) =>
      cosignVerifiesKeyless(reference(name), {identity, issuer, trustedRoot: rootFile, bundle})

    before(async function () {
      requireRegistry(this, 'keyless tests')
      if (!cosignBinary()) this.skip()
      dir = mkdtempSync(join(tmpdir(), 'imgsec-keyless-'))
      registry = await startRegistry()
      signer = await generateKeyPair(dir, 'signer')
      keySigner = await generateKeyPair(dir, 'release')
      const root = await createAuthority('test root')
      ca = await createAuthority('test intermediate', root)
      stranger = await createAuthority('stranger root')
      rootFile = writeTrustedRoot(join(dir, 'trusted_root.json'), [ca])
      const DAY = 24 * 60 * 60 * 1000
      await sign('valid', ca, {san: `email:${EMAIL}`, issuer: ISSUER})
      await sign('workflow', ca, {san: `uri:${WORKFLOW}`, issuer: ACTIONS})
      await sign('stranger', stranger, {san: `email:${EMAIL}`, issuer: ISSUER})
      await sign('expired', ca, {
        san: `email:${EMAIL}`,
        issuer: ISSUER,
        notBefore: new Date(Date.now() - 3 * DAY),
        notAfter: new Date(Date.now() - DAY),
      })
      await sign('future', ca, {san: `email:${EMAIL}`, issuer: ISSUER, notBefore: new Date(Date.now() + DAY)})
      await sign('bundle', ca, {san: `email:${EMAIL}`, issuer: ISSUER}, true)
      await sign('bundle-stranger', stranger, {san: `email:${EMAIL}`, issuer: ISSUER}, true)
      await sign(
        'bundle-expired',
        ca,
        {
          san: `email:${EMAIL}`,
          issuer: ISSUER,
          notBefore: new Date(Date.now() - 3 * DAY),
          notAfter: new Date(Date.now() - DAY),
        },
        true,
      )
      digests.keyed = (await registry.pushImage('keyless/keyed', 'v1')).digest
      await signImage(registry, 'keyless/keyed', digests.keyed, keySigner)
      digests['keyed-bundle'] = (await registry.pushImage('keyless/keyed-bundle', 'v1')).digest
      await signImageBundle(registry, 'keyless/keyed-bundle', digests['keyed-bundle'], keySigner)
    })
    after(async () => {
      await registry?.stop()
      if (dir) rmSync(dir, {recursive: true, force: true})
    })

    const exact = [{issuer: ISSUER, subject: EMAIL}]

    it('valid: the certificate chains to the trusted root and names the identity', async () => {
      const verdict = await verifyImageSignature(image('valid'), trust(exact), connection)
      expect(verdict).to.deep.include({status: 'verified', identity: EMAIL, issuer: ISSUER, source: 'tag'})
      expect(
        await cosignSays('valid', ['--certificate-identity', EMAIL], ['--certificate-oidc-issuer', ISSUER]),
      ).to.equal(true)
    })

    it('wrong identity: refused, naming what the certificate says and what was wanted', async () => {
      const verdict = await verifyImageSignature(
        image('valid'),
        trust([{issuer: ISSUER, subject: 'ops@example.com'}]),
        connection,
      )
      expect(verdict.status).to.equal('invalid')
      expect(verdict.reasons.join()).to.match(
        /has a certificate for dev@example\.com \(issuer https:\/\/issuer\.example\), which matches none of: subject ops@example\.com, issuer https:\/\/issuer\.example$/,
      )
      expect(
        await cosignSays('valid', ['--certificate-identity', 'ops@example.com'], ['--certificate-oidc-issuer', ISSUER]),
      ).to.equal(false)
    })

    it('wrong issuer: refused', async () => {
      const verdict = await verifyImageSignature(image('valid'), trust([{issuer: ACTIONS, subject: EMAIL}]), connection)
      expect(verdict.status).to.equal('invalid')
      expect(verdict.reasons.join()).to.include(`matches none of: subject ${EMAIL}, issuer ${ACTIONS}`)
      expect(
        await cosignSays('valid', ['--certificate-identity', EMAIL], ['--certificate-oidc-issuer', ACTIONS]),
      ).to.equal(false)
    })

    it('a certificate from a CA outside the trusted root: refused (the chain is always verified)', async () => {
      for (const name of ['stranger', 'bundle-stranger']) {
        const verdict = await verifyImageSignature(image(name), trust(exact), connection)
        expect(verdict.status, name).to.equal('invalid')
        expect(verdict.reasons.join(), name).to.match(
          /that does not chain to a certificate authority of .*trusted_root\.json/,
        )
        const bundle = name.startsWith('bundle')
        expect(
          await cosignSays(name, ['--certificate-identity', EMAIL], ['--certificate-oidc-issuer', ISSUER], bundle),
        ).to.equal(false)
      }
    })

    it('an expired certificate, or one not valid yet: refused (no transparency log: it must be valid now)', async () => {
      for (const name of ['expired', 'future', 'bundle-expired']) {
        const verdict = await verifyImageSignature(image(name), trust(exact), connection)
        expect(verdict.status, name).to.equal('invalid')
        expect(verdict.reasons.join(), name).to.match(
          /has a certificate not valid at \S+ \(valid \S+ to \S+; without a transparency log/,
        )
      }
      expect(
        await cosignSays('expired', ['--certificate-identity', EMAIL], ['--certificate-oidc-issuer', ISSUER]),
      ).to.equal(false)
    })

    it('regular expressions for identity and issuer (a CI workflow URI)', async () => {
      const identities = [{issuerRegExp: '^https://token\\.actions\\.', subjectRegExp: '^https://github\\.com/org/'}]
      const verdict = await verifyImageSignature(image('workflow'), trust(identities), connection)
      expect(verdict).to.deep.include({status: 'verified', identity: WORKFLOW, issuer: ACTIONS})
      expect(
        await cosignSays(
          'workflow',
          ['--certificate-identity-regexp', '^https://github\\.com/org/'],
          ['--certificate-oidc-issuer-regexp', '^https://token\\.actions\\.'],
        ),
      ).to.equal(true)
      const other = await verifyImageSignature(
        image('workflow'),
        trust([{issuer: ACTIONS, subjectRegExp: '^https://github\\.com/other/'}]),
        connection,
      )
      expect(other.status).to.equal('invalid')
    })

    it('a Sigstore bundle with a certificate (cosign sign --new-bundle-format --certificate)', async () => {
      const verdict = await verifyImageSignature(image('bundle'), trust(exact), connection)
      expect(verdict).to.deep.include({status: 'verified', identity: EMAIL, issuer: ISSUER, source: 'referrers-tag'})
      expect(
        await cosignSays('bundle', ['--certificate-identity', EMAIL], ['--certificate-oidc-issuer', ISSUER], true),
      ).to.equal(true)
      const wrong = await verifyImageSignature(
        image('bundle'),
        trust([{issuer: ISSUER, subject: 'x@example.com'}]),
        connection,
      )
      expect(wrong.status).to.equal('invalid')
      expect(wrong.reasons.join()).to.include('which matches none of: subject x@example.com')
    })

    it('a trusted root made by cosign trusted-root create --fulcio (url, certificate-chain)', async () => {
      const chainFile = join(dir, 'ca-chain.pem')
      writeFileSync(chainFile, chainPem(ca))
      const made = join(dir, 'cosign_root.json')
      await execFileAsync(cosignBinary()!, [
        'trusted-root',
        'create',
        `--fulcio=url=https://ca.example.test,certificate-chain=${chainFile}`,
        '--out',
        made,
      ])
      const root = readTrustedRoot(made)
      const verdict = await verifyImageSignature(
        image('valid'),
        {keys: [], keyless: {root, identities: exact}},
        connection,
      )
      expect(verdict).to.deep.include({status: 'verified', identity: EMAIL})
    })

    it('bundles: a key-signed one under keyless identities only, a keyless one under keys only: refused, saying why', async () => {
      const keyed = await verifyImageSignature(image('keyed-bundle'), trust(exact), connection)
      expect(keyed.reasons).to.deep.equal([
        `bundle ${keyed.reasons[0].slice(7, 7 + 'sha256:'.length + 12)} is signed with a key, and the policy trusts only keyless identities`,
      ])
      const keyless = await verifyImageSignature(
        image('bundle'),
        {keys: [readTrustedKey(keySigner.publicKeyFile)]},
        connection,
      )
      expect(keyless.status).to.equal('invalid')
      expect(keyless.reasons.join()).to.include(
        'is signed with a certificate (keyless), which trusted keys do not verify',
      )
    })

    it('keys and keyless identities together: either signature counts', async () => {
      const both = trust(exact, [readTrustedKey(keySigner.publicKeyFile)])
      expect(await verifyImageSignature(image('keyed'), both, connection)).to.deep.include({
        status: 'verified',
        key: keySigner.publicKeyFile,
      })
      expect(await verifyImageSignature(image('valid'), both, connection)).to.deep.include({
        status: 'verified',
        identity: EMAIL,
      })
      const keylessOnly = await verifyImageSignature(image('keyed'), trust(exact), connection)
      expect(keylessOnly.status).to.equal('invalid')
      expect(keylessOnly.reasons.join()).to.match(
        /has no certificate \(a keyless signature carries dev\.sigstore\.cosign\/certificate\)$/,
      )
      const stranger = await verifyImageSignature(image('stranger'), both, connection)
      expect(stranger.reasons.join()).to.match(
        /is not by a trusted key \(tried .*release\.pub\), and has a certificate that does not chain/,
      )
    })
  })
})

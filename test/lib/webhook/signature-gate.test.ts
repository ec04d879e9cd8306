import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {DEFAULT_POLICY, type ImagePolicy} from '../../../src/lib/policy/policy.js'
import {readTrustedKey} from '../../../src/lib/signature/trusted-keys.js'
import {createSignatureGate} from '../../../src/lib/webhook/signature-gate.js'
import {readTrustedRoot} from '../../../src/lib/signature/trusted-root.js'
import {generateKeyPair, signImage, type TestKeyPair} from '../../support/cosign.js'
import {chainPem, createAuthority, issueLeaf, signWithCertificate, writeTrustedRoot} from '../../support/keyless.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../../support/registry.js'

describe('signature gate (webhook requireSignature) against a real registry', function () {
  this.timeout(120_000)
  let registry: RunningRegistry
  let dir: string
  let policy: ImagePolicy
  let key: TestKeyPair
  const images: string[] = []
  before(async function () {
    requireRegistry(this, 'the signature-gate tests')
    dir = mkdtempSync(join(tmpdir(), 'imgsec-gate-'))
    registry = await startRegistry()
    key = await generateKeyPair(dir, 'cosign')
    for (const name of ['a', 'b']) {
      const {digest} = await registry.pushImage(`team/${name}`, '1')
      await signImage(registry, `team/${name}`, digest, key)
      images.push(`${registry.host}/team/${name}@${digest}`)
    }
    policy = {
      ...DEFAULT_POLICY,
      exemptNamespaces: ['kube-system'],
      allowedRegistries: [registry.host],
      requireSignature: [{repositories: [`${registry.host}/team`], keys: [readTrustedKey(key.publicKeyFile)]}],
    }
  })
  after(async () => {
    await registry?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('keyless: a verified digest is cached under its trusted root and identities, so changing them asks again', async function () {
    const ca = await createAuthority('gate root')
    const root = readTrustedRoot(writeTrustedRoot(join(dir, 'root.json'), [ca]))
    const certificateFile = join(dir, 'leaf.pem')
    const chainFile = join(dir, 'chain.pem')
    writeFileSync(
      certificateFile,
      await issueLeaf(ca, key.publicKeyFile, {san: 'email:ci@example.com', issuer: 'https://ci.example'}),
    )
    writeFileSync(chainFile, chainPem(ca))
    const {digest} = await registry.pushImage('keyless/app', '1')
    if (!(await signWithCertificate(registry, 'keyless/app', digest, key, {certificateFile, chainFile}))) this.skip()
    const image = `${registry.host}/keyless/app@${digest}`
    const withIdentity = (subject: string): ImagePolicy => ({
      ...policy,
      requireSignature: [
        {
          repositories: [`${registry.host}/keyless`],
          keys: [],
          keyless: {root, identities: [{issuer: 'https://ci.example', subject}]},
        },
      ],
    })
    const gate = createSignatureGate({budgetMs: 10_000})
    expect(await gate([image], 'default', withIdentity('ci@example.com'))).to.deep.equal([[]])
    const [[refused]] = await gate([image], 'default', withIdentity('other@example.com'))
    expect(refused.rule).to.equal('image-signature-invalid')
    expect(refused.message).to.include(
      'has a certificate for ci@example.com (issuer https://ci.example), which matches none of: subject other@example.com',
    )
  })

  it('keeps at most maxCacheEntries verified digests (oldest out), for cacheTtlMs; skips exempt and refused images', async () => {
    let now = 1_000_000
    const gate = createSignatureGate({budgetMs: 10_000, maxCacheEntries: 1, cacheTtlMs: 60_000, now: () => now})
    expect(await gate(images, 'default', policy)).to.deep.equal([[], []])
    await registry.stop()
    // Only the digest verified last is still cached (the two were verified at once, in either
    // order): the other needs the stopped registry again.
    const again = await gate(images, 'default', policy)
    expect(again.map((violations) => violations.length).sort()).to.deep.equal([0, 1])
    const refused = again.flat()[0]
    expect(refused.rule).to.equal('image-signature-missing')
    expect(refused.message).to.match(/could not be checked: .*did not answer|could not be checked: cannot connect/)
    const cached = images[again.findIndex((violations) => violations.length === 0)]
    // Past the TTL the cached one is asked again too.
    now += 60_001
    expect((await gate([cached], 'default', policy))[0][0].message).to.include('could not be checked')
    // An exempt namespace, an image the policy refuses anyway and one outside requireSignature need no registry.
    expect(
      await gate(
        [images[0], 'quay.io/x/y:1', `${registry.host}/other/z@sha256:${'e'.repeat(64)}`],
        'kube-system',
        policy,
      ),
    ).to.deep.equal([[], [], []])
    expect(await gate(['quay.io/x/y:1'], 'default', policy)).to.deep.equal([[]])
  })
})

import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {runCli} from '../support/cli.js'
import {cosignBinary, generateKeyPair, type TestKeyPair} from '../support/cosign.js'
import {
  chainPem,
  createAuthority,
  issueLeaf,
  signWithCertificate,
  type TestAuthority,
  writeTrustedRoot,
} from '../support/keyless.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'

const EMAIL = 'release@example.com'
const ISSUER = 'https://issuer.example'

describe('kubectl imgsec verify, keyless (built CLI, real registry, real cosign)', function () {
  this.timeout(180_000)
  let registry: RunningRegistry
  let dir: string
  let signer: TestKeyPair
  let ca: TestAuthority
  let rootFile: string
  const digests: Record<string, string> = {}
  const image = (name: string) => `${registry.host}/keyless/${name}@${digests[name]}`
  const keyless = (name: string, ...flags: string[]) =>
    runCli(['verify', image(name), '--trusted-root', rootFile, ...flags])

  before(async function () {
    requireRegistry(this, 'keyless verify e2e')
    if (!cosignBinary()) this.skip()
    registry = await startRegistry()
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-verify-keyless-'))
    signer = await generateKeyPair(dir, 'signer')
    ca = await createAuthority('e2e root')
    rootFile = writeTrustedRoot(path.join(dir, 'trusted_root.json'), [ca])
    const certificateFile = path.join(dir, 'leaf.pem')
    const chainFile = path.join(dir, 'chain.pem')
    writeFileSync(certificateFile, await issueLeaf(ca, signer.publicKeyFile, {san: `email:${EMAIL}`, issuer: ISSUER}))
    writeFileSync(chainFile, chainPem(ca))
    for (const [name, bundle] of [
      ['signed', false],
      ['bundled', true],
    ] as const) {
      digests[name] = (await registry.pushImage(`keyless/${name}`, '1.0')).digest
      await signWithCertificate(registry, `keyless/${name}`, digests[name], signer, {
        certificateFile,
        chainFile,
        bundle,
      })
    }
  })
  after(async () => {
    await registry?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('--certificate-identity --certificate-oidc-issuer --trusted-root: exit 0 and the identity that signed', async () => {
    const result = await keyless('signed', '--certificate-identity', EMAIL, '--certificate-oidc-issuer', ISSUER)
    expect(result.stderr).to.equal('')
    expect(result.stdout).to.equal(`verified: ${image('signed')} is signed by ${EMAIL} (issuer ${ISSUER})\n`)
    expect(result.code).to.equal(0)
  })

  it('the -regexp flags, and a Sigstore bundle with a certificate; -o json names identity and issuer', async () => {
    const result = await keyless(
      'bundled',
      '--certificate-identity-regexp',
      '^release@example\\.com$',
      '--certificate-oidc-issuer-regexp',
      '^https://issuer\\.',
      '-o',
      'json',
    )
    expect(JSON.parse(result.stdout)).to.deep.equal({
      image: image('bundled'),
      status: 'verified',
      identity: EMAIL,
      issuer: ISSUER,
      source: 'referrers-tag',
      reasons: [],
    })
    expect(result.code).to.equal(0)
  })

  it('another identity: exit 1, naming what the certificate says and what was wanted', async () => {
    const result = await keyless(
      'signed',
      '--certificate-identity',
      'ops@example.com',
      '--certificate-oidc-issuer',
      ISSUER,
    )
    expect(result.stdout).to.match(
      /^NOT VERIFIED: .*: signature sha256:[a-f0-9]{12} has a certificate for release@example\.com \(issuer https:\/\/issuer\.example\), which matches none of: subject ops@example\.com, issuer https:\/\/issuer\.example\n$/,
    )
    expect(result.code).to.equal(1)
  })

  it('a trusted root without the CA that issued the certificate: exit 1', async () => {
    const otherRoot = writeTrustedRoot(path.join(dir, 'other_root.json'), [await createAuthority('other root')])
    const result = await runCli([
      'verify',
      image('signed'),
      '--trusted-root',
      otherRoot,
      '--certificate-identity',
      EMAIL,
      '--certificate-oidc-issuer',
      ISSUER,
    ])
    expect(result.stdout).to.match(
      /has a certificate that does not chain to a certificate authority of .*other_root\.json/,
    )
    expect(result.code).to.equal(1)
  })

  const mistakes: Array<[string, () => string[], RegExp]> = [
    [
      '--key with a keyless flag',
      () => ['verify', 'nginx', '--key', signer.publicKeyFile, '--certificate-identity', EMAIL],
      /^error: --certificate-identity applies only without --key \(keyless; a policy requireSignature entry may trust keys and identities together\)\n$/,
    ],
    [
      'no issuer',
      () => ['verify', 'nginx', '--certificate-identity', EMAIL, '--trusted-root', rootFile],
      /^error: keyless verification: needs --certificate-oidc-issuer \(exact\) or --certificate-oidc-issuer-regexp\n$/,
    ],
    [
      'no identity',
      () => ['verify', 'nginx', '--certificate-oidc-issuer', ISSUER, '--trusted-root', rootFile],
      /^error: keyless verification: needs --certificate-identity \(exact\) or --certificate-identity-regexp\n$/,
    ],
    [
      'identity and identity regexp',
      () => [
        'verify',
        'nginx',
        '--certificate-identity',
        EMAIL,
        '--certificate-identity-regexp',
        '.',
        '--certificate-oidc-issuer',
        ISSUER,
      ],
      /^error: keyless verification: give --certificate-identity or --certificate-identity-regexp, not both\n$/,
    ],
    [
      'a bad regular expression',
      () => [
        'verify',
        'nginx',
        '--certificate-identity',
        EMAIL,
        '--certificate-oidc-issuer-regexp',
        '(',
        '--trusted-root',
        rootFile,
      ],
      /^error: keyless verification: --certificate-oidc-issuer-regexp is not a valid regular expression\n$/,
    ],
    [
      'no --trusted-root',
      () => ['verify', 'nginx', '--certificate-identity', EMAIL, '--certificate-oidc-issuer', ISSUER],
      /^error: keyless verification needs --trusted-root: Sigstore's trusted_root\.json with the CA that issued the certificates/,
    ],
  ]
  for (const [label, args, message] of mistakes) {
    it(`${label}: one error line, exit 1`, async () => {
      const result = await runCli(args())
      expect(result.stderr).to.match(message)
      expect(result.stderr.split('\n').filter(Boolean)).to.have.length(1)
      expect(result.code).to.equal(1)
    })
  }

  it('a --trusted-root that is not a trusted root is refused without quoting it (canary)', async () => {
    const file = path.join(dir, 'bad_root.json')
    writeFileSync(file, '{"certificateAuthorities": "canary-secret-Zq9"}')
    const result = await runCli([
      'verify',
      'nginx',
      '--certificate-identity',
      EMAIL,
      '--certificate-oidc-issuer',
      ISSUER,
      '--trusted-root',
      file,
      '--debug',
    ])
    expect(result.stderr).to.match(
      /^error: --trusted-root ".*bad_root\.json" (is not a readable Sigstore trusted root|has no certificateAuthorities)/,
    )
    expect(result.stdout + result.stderr).to.not.include('canary-secret')
    expect(result.code).to.equal(1)
  })
})

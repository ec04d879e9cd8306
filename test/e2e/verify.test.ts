import {expect} from 'chai'
import {generateKeyPairSync} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {runCli} from '../support/cli.js'
import {generateKeyPair, signImage, signImageBundle, type TestKeyPair} from '../support/cosign.js'
import {dockerConfigJson, requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'

const USER = 'verifier'
const PASSWORD = 'Verify-Passw0rd-canary'

describe('kubectl imgsec verify (built CLI, real registry)', function () {
  this.timeout(120_000)
  let registry: RunningRegistry
  let dir: string
  let trusted: TestKeyPair
  let other: TestKeyPair
  let dockerConfig: string
  const credentials = {username: USER, password: PASSWORD}
  const images: Record<string, string> = {}

  before(async function () {
    requireRegistry(this, 'verify e2e')
    registry = await startRegistry({users: {[USER]: PASSWORD}})
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-verify-'))
    trusted = await generateKeyPair(dir, 'cosign')
    other = await generateKeyPair(dir, 'other')
    for (const name of ['signed', 'unsigned', 'stranger']) {
      images[name] = (await registry.pushImage(`team/${name}`, '1.0', credentials)).digest
    }
    await signImage(registry, 'team/signed', images.signed, trusted, credentials)
    await signImage(registry, 'team/stranger', images.stranger, other, credentials)
    dockerConfig = path.join(dir, 'config.json')
    writeFileSync(dockerConfig, dockerConfigJson(registry.host, USER, PASSWORD))
  })
  after(async () => {
    await registry?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  const verify = (image: string, ...more: string[]) =>
    runCli(['verify', image, '--key', trusted.publicKeyFile, '--docker-config', dockerConfig, ...more])

  it('exit 0 and one line for a signed image pinned by digest', async () => {
    const image = `${registry.host}/team/signed@${images.signed}`
    const result = await verify(image)
    expect(result.stderr).to.equal('')
    expect(result.stdout).to.equal(`verified: ${image} is signed by ${trusted.publicKeyFile}\n`)
    expect(result.code).to.equal(0)
  })

  it('a Sigstore bundle (cosign sign --new-bundle-format) found through the referrers tag fallback', async function () {
    // An anonymous registry: signImageBundle gives cosign no credentials.
    const open = await startRegistry()
    try {
      const pushed = await open.pushImage('team/bundled', '1.0')
      if (!(await signImageBundle(open, 'team/bundled', pushed.digest, trusted))) this.skip()
      const result = await runCli([
        'verify',
        `${open.host}/team/bundled@${pushed.digest}`,
        '--key',
        trusted.publicKeyFile,
        '-o',
        'json',
      ])
      expect(JSON.parse(result.stdout)).to.include({
        status: 'verified',
        source: 'referrers-tag',
        key: trusted.publicKeyFile,
      })
      expect(result.code).to.equal(0)
    } finally {
      await open.stop()
    }
  })

  it('resolves a tag to its digest first and says so', async () => {
    const result = await verify(`${registry.host}/team/signed:1.0`)
    expect(result.stdout).to.equal(
      `verified: ${registry.host}/team/signed@${images.signed} (tag 1.0) is signed by ${trusted.publicKeyFile}\n`,
    )
    expect(result.code).to.equal(0)
  })

  it('exit 1 for an unsigned image, naming the tag it looked for', async () => {
    const result = await verify(`${registry.host}/team/unsigned@${images.unsigned}`)
    expect(result.stdout).to.equal(
      `NOT VERIFIED: ${registry.host}/team/unsigned@${images.unsigned} has no signature (no ${images.unsigned.replace(':', '-')}.sig tag, no Sigstore bundle among its referrers)\n`,
    )
    expect(result.code).to.equal(1)
  })

  it('exit 1 for an image signed by another key, with the key tried', async () => {
    const result = await verify(`${registry.host}/team/stranger@${images.stranger}`)
    expect(result.stdout).to.match(
      new RegExp(
        `^NOT VERIFIED: .*team/stranger@sha256:[a-f0-9]{64}: signature sha256:[a-f0-9]{12} is not by a trusted key \\(tried ${trusted.publicKeyFile}\\)\\n$`,
      ),
    )
    expect(result.code).to.equal(1)
  })

  it('--key repeated: any trusted key verifies', async () => {
    const result = await verify(`${registry.host}/team/stranger@${images.stranger}`, '--key', other.publicKeyFile)
    expect(result.stdout).to.include(`is signed by ${other.publicKeyFile}`)
    expect(result.code).to.equal(0)
  })

  it('-o json: the verdict as an object', async () => {
    const signed = await verify(`${registry.host}/team/signed:1.0`, '-o', 'json')
    expect(JSON.parse(signed.stdout)).to.deep.equal({
      image: `${registry.host}/team/signed@${images.signed}`,
      status: 'verified',
      key: trusted.publicKeyFile,
      source: 'tag',
      reasons: [],
      resolvedFrom: '1.0',
    })
    const unsigned = await verify(`${registry.host}/team/unsigned@${images.unsigned}`, '-o', 'json')
    expect(JSON.parse(unsigned.stdout)).to.include({status: 'missing'})
    expect(unsigned.code).to.equal(1)
  })

  it('without credentials a private registry is an error naming the fix, never the password', async () => {
    const result = await runCli([
      'verify',
      `${registry.host}/team/signed@${images.signed}`,
      '--key',
      trusted.publicKeyFile,
    ])
    expect(result.stderr).to.equal(
      `error: cannot read ${registry.host}/team/signed: the registry refused anonymous access (HTTP 401); give credentials with --docker-config\n`,
    )
    expect(result.code).to.equal(1)
    expect(result.stdout + result.stderr).to.not.include(PASSWORD)
  })

  it('TLS: --ca-file trusts the registry, --insecure-skip-tls-verify skips the check, neither is an error naming --ca-file', async () => {
    const tls = await startRegistry({tls: true})
    try {
      const {digest} = await tls.pushImage('team/tls', '1.0')
      const image = `${tls.host}/team/tls@${digest}`
      const absent = `NOT VERIFIED: ${image} has no signature (no ${digest.replace(':', '-')}.sig tag, no Sigstore bundle among its referrers)\n`
      const withCa = await runCli(['verify', image, '--key', trusted.publicKeyFile, '--ca-file', tls.caFile!])
      expect(withCa.stdout).to.equal(absent)
      const skipped = await runCli(['verify', image, '--key', trusted.publicKeyFile, '--insecure-skip-tls-verify'])
      expect(skipped.stdout).to.equal(absent)
      const untrusted = await runCli(['verify', image, '--key', trusted.publicKeyFile])
      expect(untrusted.stderr).to.match(/^error: .*; pass the registry CA with --ca-file\n$/)
      expect(untrusted.code).to.equal(1)
    } finally {
      await tls.stop()
    }
  })

  it('--request-timeout bounds a registry that never answers', async () => {
    const {createServer} = await import('node:net')
    const server = createServer(() => {})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as {port: number}
    try {
      const started = Date.now()
      const result = await runCli([
        'verify',
        `http://127.0.0.1:${port}/team/app@sha256:${'a'.repeat(64)}`.replace('http://', ''),
        '--key',
        trusted.publicKeyFile,
        '--request-timeout',
        '1s',
      ])
      expect(result.stderr).to.match(/^error: the registry at .* did not answer within 1s \(--request-timeout\)/)
      expect(result.code).to.equal(1)
      expect(Date.now() - started).to.be.lessThan(8000)
    } finally {
      server.close()
    }
  })

  const mistakes: Array<[string, () => string[], RegExp]> = [
    [
      'no --key',
      () => ['verify', 'nginx'],
      /^error: --key \(the trusted public key, cosign\.pub\) or keyless: --certificate-identity\[-regexp\], --certificate-oidc-issuer\[-regexp\] and --trusted-root is required\n$/,
    ],
    [
      'an invalid image',
      () => ['verify', 'UPPER/Case', '--key', trusted.publicKeyFile],
      /^error: IMAGE "UPPER\/Case": /,
    ],
    [
      'a missing key file',
      () => ['verify', 'nginx', '--key', path.join(dir, 'nope.pub')],
      /^error: --key ".*nope\.pub".*no such file or directory/,
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

  it('a private key given as --key is refused without printing it', async () => {
    const privatePem = String(
      generateKeyPairSync('ec', {namedCurve: 'prime256v1'}).privateKey.export({type: 'pkcs8', format: 'pem'}),
    )
    const file = path.join(dir, 'cosign.key')
    writeFileSync(file, privatePem, {mode: 0o600})
    const result = await runCli(['verify', 'nginx', '--key', file, '--debug'])
    expect(result.stderr).to.match(/^error: --key ".*cosign\.key" is a private key; give the public key/)
    expect(result.stdout + result.stderr).to.not.include(privatePem.split('\n')[1])
    expect(result.code).to.equal(1)
  })
})

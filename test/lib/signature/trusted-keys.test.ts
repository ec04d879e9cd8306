import {expect} from 'chai'
import {generateKeyPairSync} from 'node:crypto'
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {UserError} from '../../../src/lib/errors.js'
import {parseTrustedKey, readTrustedKey} from '../../../src/lib/signature/trusted-keys.js'

const pem = (key: {export(o: object): string | Buffer}) => String(key.export({type: 'spki', format: 'pem'}))

describe('trusted keys', () => {
  let dir: string
  before(() => (dir = mkdtempSync(join(tmpdir(), 'imgsec-keys-'))))
  after(() => rmSync(dir, {recursive: true, force: true}))

  const kinds: Array<[string, () => ReturnType<typeof generateKeyPairSync>, string]> = [
    ['ECDSA P-256', () => generateKeyPairSync('ec', {namedCurve: 'prime256v1'}), 'ecdsa-p256'],
    ['Ed25519', () => generateKeyPairSync('ed25519'), 'ed25519'],
    ['RSA 2048', () => generateKeyPairSync('rsa', {modulusLength: 2048}), 'rsa'],
  ]
  for (const [label, make, type] of kinds) {
    it(`accepts a ${label} public key, with the sha256 of its SPKI as hint`, () => {
      const key = parseTrustedKey(pem(make().publicKey), 'k.pub', '--key "k.pub"')
      expect(key.type).to.equal(type)
      expect(key.name).to.equal('k.pub')
      expect(key.hint).to.match(/^[a-f0-9]{64}$/)
    })
  }

  it('two keys have different hints', () => {
    const a = parseTrustedKey(pem(kinds[0][1]().publicKey), 'a', 'a')
    const b = parseTrustedKey(pem(kinds[0][1]().publicKey), 'b', 'b')
    expect(a.hint).to.not.equal(b.hint)
  })

  const refusals: Array<[string, () => string, RegExp]> = [
    [
      'P-384',
      () => pem(generateKeyPairSync('ec', {namedCurve: 'secp384r1'}).publicKey),
      /ec secp384r1 key; trusted keys are ECDSA P-256, Ed25519 or RSA/,
    ],
    [
      'RSA 1024',
      () => pem(generateKeyPairSync('rsa', {modulusLength: 1024}).publicKey),
      /RSA key of 1024 bits; use at least 2048/,
    ],
    [
      'a certificate',
      () => '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      /is not a PEM public key/,
    ],
    [
      'garbage inside the PEM armour',
      () => '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
      /is not a readable PEM public key/,
    ],
  ]
  for (const [label, text, message] of refusals) {
    it(`refuses ${label}, naming where`, () => {
      expect(() => parseTrustedKey(text(), 'x', '--key "x.pub"'))
        .to.throw(UserError, message)
        .with.property('message')
        .that.matches(/^--key "x\.pub" /)
    })
  }

  it('refuses a private key without repeating it (canary)', () => {
    const privatePem = String(
      generateKeyPairSync('ec', {namedCurve: 'prime256v1'}).privateKey.export({type: 'pkcs8', format: 'pem'}),
    )
    const body = privatePem.split('\n')[1]
    const file = join(dir, 'cosign.key')
    writeFileSync(file, privatePem, {mode: 0o600})
    try {
      readTrustedKey(file)
      expect.fail('accepted a private key')
    } catch (error) {
      expect(error).to.be.instanceOf(UserError)
      expect((error as Error).message).to.equal(
        `--key "${file}" is a private key; give the public key (cosign.pub, from cosign generate-key-pair), keep the private one secret`,
      )
      expect((error as Error).message).to.not.include(body.slice(0, 16))
    }
  })

  it('reads a key file, and names an unreadable or oversized one', () => {
    const file = join(dir, 'cosign.pub')
    writeFileSync(file, pem(kinds[0][1]().publicKey))
    expect(readTrustedKey(file).name).to.equal(file)
    expect(() => readTrustedKey(join(dir, 'missing.pub'), 'keyFile')).to.throw(
      UserError,
      /^keyFile ".*missing\.pub".*no such file/,
    )
    const big = join(dir, 'big.pub')
    writeFileSync(big, 'x'.repeat(70 * 1024))
    expect(() => readTrustedKey(big)).to.throw(UserError, /is 71680 bytes, too large for a public key/)
    if (process.getuid?.() !== 0) {
      chmodSync(file, 0)
      expect(() => readTrustedKey(file)).to.throw(UserError, /permission denied/)
    }
  })
})

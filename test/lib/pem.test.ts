import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {UserError} from '../../src/lib/errors.js'
import {readCaBundle} from '../../src/lib/pem.js'
import {createTestCa, type TestCa} from '../support/tls.js'

const CANARY = 'TopSecret99-pem-canary'

describe('readCaBundle (--ca-file, --webhook-ca)', () => {
  let dir: string
  let ca: TestCa
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-pem-'))
    ca = await createTestCa(dir)
  })
  after(() => rmSync(dir, {recursive: true, force: true}))
  const write = (name: string, content: string) => {
    const file = path.join(dir, name)
    writeFileSync(file, content)
    return file
  }
  const refusal = (file: string) => {
    try {
      readCaBundle('--ca-file', file)
    } catch (error) {
      expect(error).to.be.instanceOf(UserError)
      return (error as Error).message
    }
    throw new Error('not refused')
  }

  it('returns the bytes of a PEM CA bundle', () => {
    const file = write('bundle.pem', `${ca.caCertPem}${ca.caCertPem}`)
    expect(readCaBundle('--ca-file', file).toString()).to.equal(`${ca.caCertPem}${ca.caCertPem}`)
  })

  const cases: Array<[string, string, (file: string) => string]> = [
    [
      'a text file',
      `${CANARY}\n`,
      (file) => `--ca-file ${file} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`,
    ],
    [
      'a private key',
      `-----BEGIN PRIVATE KEY-----\n${CANARY}\n-----END PRIVATE KEY-----\n`,
      (file) =>
        `--ca-file ${file} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block); it holds a private key`,
    ],
    [
      'a damaged certificate block',
      `-----BEGIN CERTIFICATE-----\n${CANARY}\n-----END CERTIFICATE-----\n`,
      (file) => `--ca-file ${file}: the certificate block is damaged (not valid base64 DER); export it again`,
    ],
  ]
  for (const [what, content, message] of cases) {
    it(`refuses ${what} in one line naming the flag, never the content`, () => {
      const file = write(`${what.replaceAll(' ', '-')}.pem`, content)
      expect(refusal(file)).to.equal(message(file))
    })
  }

  it('refuses a missing file and a directory in words', () => {
    expect(refusal(path.join(dir, 'nope.pem'))).to.equal(
      `--ca-file ${path.join(dir, 'nope.pem')} cannot be read: no such file or directory`,
    )
    expect(refusal(dir)).to.equal(`--ca-file ${dir} cannot be read: it is a directory, not a file`)
  })
})

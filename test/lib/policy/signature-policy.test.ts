import {expect} from 'chai'
import {generateKeyPairSync} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {UserError} from '../../../src/lib/errors.js'
import {parseImageReference} from '../../../src/lib/image/image-reference.js'
import {loadPolicyFile} from '../../../src/lib/policy/policy-file.js'
import {signatureRequirementFor} from '../../../src/lib/policy/signature-policy.js'
import {trustMaterial} from '../../../src/lib/signature/keyless.js'
import {createAuthority, writeTrustedRoot} from '../../support/keyless.js'

const IDENTITY = '{issuer: https://issuer.example, subject: dev@example.com}'

describe('policy requireSignature', () => {
  let dir: string
  const write = (name: string, text: string) => {
    const file = path.join(dir, name)
    writeFileSync(file, text)
    return file
  }
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-sigpolicy-'))
    mkdirSync(path.join(dir, 'keys'))
    const pair = generateKeyPairSync('ec', {namedCurve: 'prime256v1'})
    write('keys/cosign.pub', String(pair.publicKey.export({type: 'spki', format: 'pem'})))
    write('keys/cosign.key', String(pair.privateKey.export({type: 'pkcs8', format: 'pem'})))
    const root = await createAuthority('policy test root')
    writeTrustedRoot(path.join(dir, 'root.json'), [root])
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('reads the keys relative to the policy file, wherever the command runs', () => {
    const file = write(
      'policy.yaml',
      'requireSignature:\n- repositories: [registry.example.com/team, "*.corp.example"]\n  keys: [keys/cosign.pub]\n',
    )
    const policy = loadPolicyFile(file)
    expect(policy.requireSignature).to.have.length(1)
    expect(policy.requireSignature![0].repositories).to.deep.equal(['registry.example.com/team', '*.corp.example'])
    expect(policy.requireSignature![0].keys.map((key) => [key.name, key.type])).to.deep.equal([
      [path.join(dir, 'keys/cosign.pub'), 'ecdsa-p256'],
    ])
  })

  it('keyless identities instead of keys, or beside them, with the trusted root relative to the policy file', () => {
    const file = write(
      'keyless.yaml',
      [
        'requireSignature:',
        '- repositories: [registry.example.com/team]',
        '  keyless:',
        '    trustedRoot: root.json',
        '    identities:',
        `    - ${IDENTITY}`,
        "    - {issuerRegExp: '^https://token\\.actions\\.', subjectRegExp: '^https://github\\.com/org/'}",
        '- repositories: [registry.example.com]',
        '  keys: [keys/cosign.pub]',
        '  keyless: {trustedRoot: root.json, identities: [' + IDENTITY + ']}',
        '',
      ].join('\n'),
    )
    const [keyless, both] = loadPolicyFile(file).requireSignature!
    expect(keyless.keys).to.deep.equal([])
    expect(keyless.keyless!.root.name).to.equal(path.join(dir, 'root.json'))
    expect(trustMaterial(keyless.keyless!.root).certificateAuthorities).to.have.length(1)
    expect(keyless.keyless!.identities).to.deep.equal([
      {issuer: 'https://issuer.example', subject: 'dev@example.com'},
      {issuerRegExp: '^https://token\\.actions\\.', subjectRegExp: '^https://github\\.com/org/'},
    ])
    expect(both.keys).to.have.length(1)
    expect(both.keyless!.identities).to.have.length(1)
  })

  it('no requireSignature: none required', () => {
    expect(loadPolicyFile(write('plain.yaml', 'denyLatest: true\n')).requireSignature).to.equal(undefined)
  })

  const mistakes: Array<[string, string, string]> = [
    [
      'not a list',
      'requireSignature: {keys: [a]}\n',
      'p.yaml:1: requireSignature: must be a list of {repositories: [pattern, …], keys: [file, …] and/or keyless: {trustedRoot, identities}}',
    ],
    [
      'an entry that is not a mapping',
      'requireSignature:\n- cosign.pub\n',
      'p.yaml:2: requireSignature[0]: must be a mapping {repositories: [pattern, …], keys: [file, …]}',
    ],
    [
      'an unknown field',
      'requireSignature:\n- repositories: [r.example.com]\n  keys: [keys/cosign.pub]\n  key: x\n',
      'p.yaml:4: requireSignature[0].key: unknown field; known: repositories, keys, keyless',
    ],
    [
      'no keys',
      'requireSignature:\n- repositories: [r.example.com]\n',
      'p.yaml:2: requireSignature[0]: needs "keys": a non-empty list of public key files (or keyless: {trustedRoot, identities})',
    ],
    [
      'no repositories',
      'requireSignature:\n- keys: [keys/cosign.pub]\n',
      'p.yaml:2: requireSignature[0]: needs "repositories": a non-empty list of registry patterns',
    ],
    [
      'a bad pattern',
      'requireSignature:\n- repositories: ["Not A Host"]\n  keys: [keys/cosign.pub]\n',
      'p.yaml:2: requireSignature[0].repositories[0]: expected a registry host',
    ],
    [
      'an empty key list',
      'requireSignature:\n- repositories: [r.example.com]\n  keys: []\n',
      'p.yaml:3: requireSignature[0].keys: must be a non-empty list of public key files (or keyless: {trustedRoot, identities})',
    ],
    [
      'an empty key name',
      'requireSignature:\n- repositories: [r.example.com]\n  keys: [""]\n',
      'p.yaml:3: requireSignature[0].keys[0]: must be a non-empty string',
    ],
    [
      'a missing key file',
      'requireSignature:\n- repositories: [r.example.com]\n  keys: [keys/nope.pub]\n',
      'p.yaml:3: requireSignature[0].keys[0]: ',
    ],
    [
      'keyless that is not a mapping',
      'requireSignature:\n- repositories: [r.example.com]\n  keyless: [root.json]\n',
      'p.yaml:3: requireSignature[0].keyless: must be a mapping {trustedRoot: file, identities: [{issuer|issuerRegExp, subject|subjectRegExp}, …]}',
    ],
    [
      'keyless without a trusted root',
      `requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    identities: [${IDENTITY}]\n`,
      'p.yaml:4: requireSignature[0].keyless: needs "trustedRoot": Sigstore\'s trusted_root.json (a file, relative to the policy file)',
    ],
    [
      'keyless with an unreadable trusted root',
      `requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    trustedRoot: nope.json\n    identities: [${IDENTITY}]\n`,
      'p.yaml:4: requireSignature[0].keyless.trustedRoot: trustedRoot "',
    ],
    [
      'keyless with a trusted root that is not JSON',
      `requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    trustedRoot: keys/cosign.pub\n    identities: [${IDENTITY}]\n`,
      'cosign.pub" is not JSON (line 1, column 1',
    ],
    [
      'keyless without identities',
      'requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    trustedRoot: root.json\n',
      'p.yaml:4: requireSignature[0].keyless: needs "identities": a non-empty list of {issuer|issuerRegExp, subject|subjectRegExp}',
    ],
    [
      'a trusted root that is not a string',
      `requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    trustedRoot: [root.json]\n    identities: [${IDENTITY}]\n`,
      "p.yaml:4: requireSignature[0].keyless.trustedRoot: must be Sigstore's trusted_root.json (a file, relative to the policy file)",
    ],
    [
      'identities that are not a list',
      'requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    trustedRoot: root.json\n    identities: {issuer: x}\n',
      'p.yaml:5: requireSignature[0].keyless.identities: must be a non-empty list of {issuer|issuerRegExp, subject|subjectRegExp}',
    ],
    [
      'an identity that is not a mapping',
      'requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    trustedRoot: root.json\n    identities: [release@example.com]\n',
      'p.yaml:5: requireSignature[0].keyless.identities[0]: must be a mapping {issuer|issuerRegExp, subject|subjectRegExp}',
    ],
    [
      'an identity field that is not a string',
      'requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    trustedRoot: root.json\n    identities:\n    - {issuer: [x], subject: a}\n',
      'p.yaml:6: requireSignature[0].keyless.identities[0].issuer: must be a string',
    ],
    [
      'an identity without an issuer',
      'requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    trustedRoot: root.json\n    identities:\n    - subject: a@example.com\n',
      'p.yaml:6: requireSignature[0].keyless.identities[0]: needs issuer (exact) or issuerRegExp',
    ],
    [
      'an identity with both subject and subjectRegExp',
      'requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    trustedRoot: root.json\n    identities:\n    - {issuer: https://i.example, subject: a, subjectRegExp: b}\n',
      'p.yaml:6: requireSignature[0].keyless.identities[0]: give subject or subjectRegExp, not both',
    ],
    [
      'an identity with an unknown field (cosign flag spelling)',
      'requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    trustedRoot: root.json\n    identities:\n    - {issuer: https://i.example, subject: a, certificateIdentity: b}\n',
      'p.yaml:6: requireSignature[0].keyless.identities[0].certificateIdentity: unknown field; known: issuer, issuerRegExp, subject, subjectRegExp',
    ],
    [
      'an identity with a bad regular expression',
      'requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    trustedRoot: root.json\n    identities:\n    - {issuerRegExp: "(", subject: a}\n',
      'p.yaml:6: requireSignature[0].keyless.identities[0]: issuerRegExp is not a valid regular expression',
    ],
    [
      "an unknown keyless field (policy-controller's url)",
      `requireSignature:\n- repositories: [r.example.com]\n  keyless:\n    url: https://fulcio.example\n    trustedRoot: root.json\n    identities: [${IDENTITY}]\n`,
      'p.yaml:4: requireSignature[0].keyless.url: unknown field; known: trustedRoot, identities',
    ],
    [
      'a private key',
      'requireSignature:\n- repositories: [r.example.com]\n  keys: [keys/cosign.key]\n',
      'p.yaml:3: requireSignature[0].keys[0]: key ',
    ],
  ]
  for (const [label, text, expected] of mistakes) {
    it(`${label}: file:line and field`, () => {
      const file = write('p.yaml', text)
      try {
        loadPolicyFile(file)
        expect.fail('accepted')
      } catch (error) {
        expect(error).to.be.instanceOf(UserError)
        expect((error as Error).message).to.include(expected.replace('p.yaml', file))
      }
    })
  }

  it('a private key in the policy is refused without its text', () => {
    const file = write('p.yaml', 'requireSignature:\n- repositories: [r.example.com]\n  keys: [keys/cosign.key]\n')
    expect(() => loadPolicyFile(file)).to.throw(UserError, /keys\/cosign\.key" is a private key/)
  })

  it('the first requirement whose repositories match applies', () => {
    const keys = [] as never[]
    const requirements = [
      {repositories: ['registry.example.com/team'], keys},
      {repositories: ['registry.example.com'], keys: [...keys]},
    ]
    const match = (image: string) => signatureRequirementFor(requirements, parseImageReference(image))
    expect(match('registry.example.com/team/app:1')).to.equal(requirements[0])
    expect(match('registry.example.com/team-b/app:1')).to.equal(requirements[1])
    expect(match('docker.io/library/nginx:1')).to.equal(undefined)
    expect(signatureRequirementFor(undefined, parseImageReference('nginx'))).to.equal(undefined)
  })
})

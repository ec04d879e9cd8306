import {expect} from 'chai'

import {simpleSigningMismatch} from '../../../src/lib/signature/simple-signing.js'

const DIGEST = `sha256:${'a'.repeat(64)}`
const OTHER = `sha256:${'b'.repeat(64)}`
const image = {registry: '127.0.0.1:5000', repository: 'team/app', digest: DIGEST}

function payload(critical: unknown): Buffer {
  return Buffer.from(JSON.stringify({critical, optional: null}))
}
const valid = (reference: string, digest = DIGEST) => ({
  identity: {'docker-reference': reference},
  image: {'docker-manifest-digest': digest},
  type: 'cosign container image signature',
})

describe('simpleSigningMismatch', () => {
  const cases: Array<[string, Buffer, string | undefined]> = [
    ['the image itself', payload(valid('127.0.0.1:5000/team/app')), undefined],
    ['the image with a tag in the reference', payload(valid('127.0.0.1:5000/team/app:v1')), undefined],
    [
      'another digest',
      payload(valid('127.0.0.1:5000/team/app', OTHER)),
      `the signature is for another image digest (${OTHER})`,
    ],
    [
      'another repository',
      payload(valid('127.0.0.1:5000/team/other')),
      'the signature is for another repository (127.0.0.1:5000/team/other)',
    ],
    [
      'another registry',
      payload(valid('registry.example.com/team/app')),
      'the signature is for another repository (registry.example.com/team/app)',
    ],
    ['not JSON', Buffer.from('{nope'), 'the signed payload is not JSON'],
    [
      'JSON null',
      Buffer.from('null'),
      'the signed payload is not a cosign image signature (critical.type "cosign container image signature")',
    ],
    [
      'another type',
      payload({...valid('127.0.0.1:5000/team/app'), type: 'atomic container signature'}),
      'the signed payload is not a cosign image signature (critical.type "cosign container image signature")',
    ],
    [
      'no digest',
      payload({...valid('127.0.0.1:5000/team/app'), image: {}}),
      'the signed payload names no image digest',
    ],
    ['no reference', payload({...valid('x/y'), identity: {}}), 'the signed payload names no image reference'],
    ['an invalid reference', payload(valid('UPPER CASE')), 'the signed payload names an invalid image reference'],
  ]
  for (const [label, bytes, expected] of cases) {
    it(`${label} → ${expected ?? 'matches'}`, () => expect(simpleSigningMismatch(bytes, image)).to.equal(expected))
  }

  it('Docker Hub references compare normalised (index.docker.io/library/nginx is docker.io/library/nginx)', () => {
    const hub = {registry: 'docker.io', repository: 'library/nginx', digest: DIGEST}
    expect(simpleSigningMismatch(payload(valid('index.docker.io/library/nginx')), hub)).to.equal(undefined)
    expect(simpleSigningMismatch(payload(valid('nginx')), hub)).to.equal(undefined)
  })
})

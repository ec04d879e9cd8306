import {expect} from 'chai'

import type {SignatureRequirement} from '../../../src/lib/policy/signature-policy.js'
import {editedSignatureRequirements} from '../../../src/lib/whitelist/registries.js'

// Keys are carried along untouched: stand-ins are enough to see which requirement got what.
const keysA = [{name: 'a.pub'}] as unknown as SignatureRequirement['keys']
const keysB = [{name: 'b.pub'}] as unknown as SignatureRequirement['keys']

describe('add-registry / remove-registry: requireSignature follows the allowlist', () => {
  const all: SignatureRequirement = {repositories: ['docker.io', 'registry.example.com'], keys: keysA}
  const some: SignatureRequirement = {repositories: ['registry.example.com/team'], keys: keysB}
  const allowlist = ['docker.io', 'registry.example.com']

  const cases: Array<
    [
      string,
      SignatureRequirement[] | undefined,
      Parameters<typeof editedSignatureRequirements>[2],
      ReturnType<typeof editedSignatureRequirements>,
    ]
  > = [
    [
      'add to a whitelist that requires signatures for all its registries: the new one too, same keys',
      [all, some],
      {operation: 'add', registry: 'quay.io'},
      {requirements: [{repositories: [...all.repositories, 'quay.io'], keys: keysA}, some], signed: true},
    ],
    [
      'add with --require-signature: the same',
      [all],
      {operation: 'add', registry: 'quay.io', requireSignature: true},
      {requirements: [{repositories: [...all.repositories, 'quay.io'], keys: keysA}], signed: true},
    ],
    [
      'add with --no-require-signature: requireSignature as it was',
      [all],
      {operation: 'add', registry: 'quay.io', requireSignature: false},
      {requirements: [all], signed: false},
    ],
    [
      'add when requireSignature names only some registries: not extended',
      [some],
      {operation: 'add', registry: 'quay.io'},
      {requirements: [some], signed: false},
    ],
    [
      'add without requireSignature',
      undefined,
      {operation: 'add', registry: 'quay.io'},
      {requirements: undefined, signed: false},
    ],
    [
      'remove: the registry leaves every requirement',
      [
        {repositories: [...all.repositories, 'quay.io'], keys: keysA},
        {repositories: ['quay.io'], keys: keysB},
      ],
      {operation: 'remove', registry: 'quay.io'},
      {requirements: [all], signed: false},
    ],
    [
      'remove the only registry of the only requirement: requireSignature goes',
      [{repositories: ['quay.io'], keys: keysB}],
      {operation: 'remove', registry: 'quay.io'},
      {requirements: undefined, signed: false},
    ],
  ]
  for (const [label, requirements, edit, expected] of cases) {
    it(label, () => {
      expect(editedSignatureRequirements(requirements, allowlist, edit)).to.deep.equal(expected)
    })
  }

  it('add --require-signature with no requirement covering all the registries: refused, saying how to get keys', () => {
    for (const requirements of [undefined, [some]])
      expect(() =>
        editedSignatureRequirements(requirements, allowlist, {
          operation: 'add',
          registry: 'quay.io',
          requireSignature: true,
        }),
      ).to.throw(
        '--require-signature: no requireSignature covers all the allowed registries, so there are no keys to require for quay.io; run "whitelist enable --require-signature --trusted-key KEY" (or give requireSignature in its --policy file)',
      )
  })

  it('add a registry already in the covering requirement: it is not listed twice', () => {
    const covering = {repositories: [...allowlist, 'quay.io'], keys: keysA}
    expect(editedSignatureRequirements([covering], allowlist, {operation: 'add', registry: 'quay.io'})).to.deep.equal({
      requirements: [covering],
      signed: true,
    })
  })
})

import {expect} from 'chai'
import {readFileSync} from 'node:fs'

import {splitCommaList} from '../../src/lib/comma-list.js'

describe('splitCommaList', () => {
  const cases: Array<[string | undefined, string[]]> = [
    [undefined, []],
    ['', []],
    [',, ,', []],
    ['docker.io', ['docker.io']],
    ['a, b,,c ', ['a', 'b', 'c']],
    ['NodeRestriction,ImagePolicyWebhook', ['NodeRestriction', 'ImagePolicyWebhook']],
  ]
  for (const [value, expected] of cases) {
    it(`${JSON.stringify(value)} → ${JSON.stringify(expected)}`, () =>
      expect(splitCommaList(value)).to.deep.equal(expected))
  }

  it('is the one splitter: the CLI flags, the webhook bundle, the manifest and VAP params use it', () => {
    for (const file of [
      'src/cli/flags.ts',
      'src/webhook-main.ts',
      'src/lib/controlplane/apiserver-manifest.ts',
      'src/lib/controlplane/apiserver-start-rules.ts',
      'src/lib/whitelist/vap-mode.ts',
    ]) {
      const text = readFileSync(file, 'utf8')
      expect(text, file).to.contain('splitCommaList(')
      expect(text, file).to.not.match(/\.split\(','\)/)
    }
  })
})

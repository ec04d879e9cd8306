import {expect} from 'chai'
import {readFileSync} from 'node:fs'

import {nodeVersionWarning, REQUIRED_NODE} from '../../src/cli/node-version.js'

describe('node version check (instead of oclif engine check)', () => {
  it("REQUIRED_NODE is package.json's engines.node", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      engines: {node: string}
    }
    const {major, minor, patch} = REQUIRED_NODE
    expect(pkg.engines.node).to.equal(`>=${major}.${minor}.${patch}`)
  })

  const cases: Array<[version: string, warns: boolean]> = [
    ['20.17.0', false],
    ['20.17.1', false],
    ['20.20.2', false],
    ['22.0.0', false],
    ['24.11.1', false],
    ['20.16.9', true],
    ['20.9.0', true],
    ['18.20.4', true],
    ['19.99.0', true],
  ]
  for (const [version, warns] of cases)
    it(`${version}: ${warns ? 'warns' : 'quiet'}`, () => {
      const warning = nodeVersionWarning(version)
      if (warns) expect(warning).to.equal(`kubectl-imgsec needs Node.js 20.17.0 or later; this is ${version}`)
      else expect(warning).to.equal(undefined)
    })

  it('this node passes (the machines run the supported version)', () => {
    expect(nodeVersionWarning()).to.equal(undefined)
  })
})

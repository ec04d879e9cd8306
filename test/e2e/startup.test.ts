import {expect} from 'chai'

import {runCli} from '../support/cli.js'

describe('fast start (built CLI)', () => {
  for (const flag of ['--version', '--help']) {
    it(`${flag} without oclif prints exactly what oclif prints`, async () => {
      const fast = await runCli([flag])
      const full = await runCli([flag], {env: {IMGSEC_NO_FAST_PATH: '1', COLUMNS: '80'}})
      expect(fast.code).to.equal(0)
      expect(full.code).to.equal(0)
      expect(fast.stdout).to.equal(full.stdout)
      expect(fast.stdout).to.match(/kubectl-imgsec\/\d+\.\d+\.\d+ \w+-\w+ node-v\d+/)
    })
  }

  it('subcommand help still comes from oclif, with examples', async () => {
    const result = await runCli(['create-regcred', '--help'])
    expect(result.code).to.equal(0)
    expect(result.stdout).to.contain('EXAMPLES')
    expect(result.stdout).to.contain('--password-stdin')
  })
})

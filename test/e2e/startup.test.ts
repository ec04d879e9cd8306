import {expect} from 'chai'

import {readFileSync} from 'node:fs'
import path from 'node:path'

import {ROOT, runCli} from '../support/cli.js'

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

  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, unknown>
  }
  const ids = Object.keys(manifest.commands)

  it('finds every command in the manifest', () => {
    expect(ids).to.include.members(['audit:images', 'create-regcred', 'whitelist:enable', 'webhook:serve'])
  })

  for (const id of ids) {
    it(`${id.replaceAll(':', ' ')} --help without oclif prints exactly what oclif prints`, async () => {
      const argv = [...id.split(':'), '--help']
      const fast = await runCli(argv)
      const full = await runCli(argv, {env: {IMGSEC_NO_FAST_PATH: '1', COLUMNS: '80'}})
      expect(fast.code).to.equal(0)
      expect(fast.stdout).to.equal(full.stdout)
      expect(fast.stdout).to.contain('USAGE')
    })
  }

  it('anything but an exact command before --help goes to oclif (did you mean, flags)', async () => {
    const typo = await runCli(['create-regcerd', '--help'])
    expect(typo.stdout + typo.stderr).to.match(/create-regcred/)
    const typoInTopic = await runCli(['whitelist', 'enabel', '--help'])
    expect(typoInTopic.stderr).to.match(
      /^error: unknown command "enabel" for "kubectl imgsec whitelist"; did you mean "whitelist enable"\?/,
    )
    // A command's argument before --help: the help, never the command.
    const withArgument = await runCli(['create-regcred', 'mysecret', '--help'])
    expect(withArgument.code).to.equal(0)
    expect(withArgument.stdout).to.contain('USAGE')
    expect(withArgument.stdout).not.to.contain('secret/mysecret')
    const withFlag = await runCli(['audit', 'images', '-o', 'json', '--help'])
    expect(withFlag.code).to.equal(0)
    expect(withFlag.stdout).to.contain('USAGE')
  })
})

import {expect} from 'chai'

import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {ROOT, runCli} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'

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

  it('read-only commands load no client-node, Sigstore or X.509 library (issue 13: start-up)', async () => {
    const api = await FakeKubeApiServer.start({namespaces: ['shop']})
    try {
      const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-modules-'))
      const kubeconfig = await api.writeKubeconfig(path.join(dir, 'kubeconfig'), {namespace: 'shop'})
      const recorder = pathToFileURL(path.join(ROOT, 'test', 'support', 'record-modules.mjs')).href
      for (const args of [
        ['audit', 'images', '-A', '-o', 'json'],
        ['whitelist', 'status', '--mode', 'vap'],
      ]) {
        const file = path.join(dir, `${args.slice(0, 2).join('-')}.txt`)
        const result = await runCli(args, {
          env: {KUBECONFIG: kubeconfig, NODE_OPTIONS: `--import=${recorder}`, IMGSEC_TEST_MODULES: file},
        })
        expect(result.stderr, args.join(' ')).to.not.match(/^error:/m)
        const loaded = readFileSync(file, 'utf8').trim().split('\n')
        // The recorder sees the command's own modules and oclif's.
        expect(
          loaded.some((url) => url.endsWith('/dist/lib/cluster/api-reader.js')),
          args.join(' '),
        ).to.equal(true)
        expect(
          loaded.some((url) => url.includes('/@oclif/core/lib/index.js')),
          args.join(' '),
        ).to.equal(true)
        const heavy = loaded.filter((url) => /client-node\.js$|\/@kubernetes\/|\/@sigstore\/|\/@peculiar\//.test(url))
        expect(heavy, args.join(' ')).to.deep.equal([])
        // oclif's own engine check loads all of semver (~15 ms) when imported; ours (node-version.ts) replaces it.
        expect(
          loaded.filter((url) => url.includes('/node_modules/semver/')),
          args.join(' '),
        ).to.deep.equal([])
      }
    } finally {
      await api.stop()
    }
  })
})

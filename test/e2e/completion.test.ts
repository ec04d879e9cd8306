import {expect} from 'chai'
import {mkdirSync, mkdtempSync, readFileSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {completions, FILES, NO_FILES} from '../../src/cli/completion.js'
import {CLI, KUBECTL, ROOT, runProgram} from '../support/cli.js'

describe('shell completion', () => {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8'))
  const cases: Array<[string[], string[], number]> = [
    [[''], ['audit', 'create-regcred', 'patch-apiserver', 'webhook', 'whitelist', 'wizard'], NO_FILES],
    [['wh'], ['whitelist'], NO_FILES],
    [['whitelist', ''], ['add-registry', 'disable', 'enable', 'remove-registry', 'rotate-certs', 'status'], NO_FILES],
    [['whitelist', 'enable', '--mode', ''], ['webhook', 'vap'], NO_FILES],
    [['audit', 'images', '--fail-', ], ['--fail-on'], NO_FILES],
    [['audit', 'images', '-o', 's'], ['sarif'], NO_FILES],
    [['create-regcred', 'x', '--ver'], ['--verify'], NO_FILES],
    [['create-regcred', 'x', '--no-v'], ['--no-verify'], NO_FILES],
    [['audit', 'images', '-f', ''], [], FILES],
  ]
  for (const [argv, expected, directive] of cases) {
    it(`${argv.join(' ') || '(nothing)'} → ${expected.join(', ') || 'files'}`, () => {
      expect(completions(manifest, argv)).to.deep.equal({candidates: expected, directive})
    })
  }

  it('the real kubectl completes "kubectl imgsec" through kubectl_complete-imgsec', async () => {
    const bin = path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-complete-')), 'bin')
    mkdirSync(bin)
    symlinkSync(CLI, path.join(bin, 'kubectl-imgsec'))
    symlinkSync(path.join(ROOT, 'bin', 'complete.js'), path.join(bin, 'kubectl_complete-imgsec'))
    const env = {PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}/usr/bin:/bin`, KUBECONFIG: '/nonexistent'}
    const result = await runProgram(KUBECTL, ['__complete', 'imgsec', 'whitelist', 'enable', '--backend-placement', ''], {env})
    expect(result.stdout.split('\n').filter((line) => line && !line.startsWith('['))).to.deep.equal(['static', 'deployment', 'external', ':4'])
    expect(result.stderr).to.contain('ShellCompDirectiveNoFileComp')
  })
})

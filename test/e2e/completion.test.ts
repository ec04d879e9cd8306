import {expect} from 'chai'
import {mkdirSync, mkdtempSync, readFileSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {completeValues, completions, FILES, NO_FILES} from '../../src/cli/completion.js'
import {CLI, KUBECTL, ROOT, runProgram} from '../support/cli.js'

describe('shell completion', () => {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8'))
  const cases: Array<[string[], string[], number]> = [
    [[''], ['audit', 'create-regcred', 'patch-apiserver', 'verify', 'webhook', 'whitelist', 'wizard'], NO_FILES],
    [['wh'], ['whitelist'], NO_FILES],
    [['whitelist', ''], ['add-registry', 'disable', 'enable', 'remove-registry', 'rotate-certs', 'status'], NO_FILES],
    [['whitelist', 'enable', '--mode', ''], ['webhook', 'vap'], NO_FILES],
    [['audit', 'images', '--fail-'], ['--fail-on'], NO_FILES],
    [['audit', 'images', '-o', 's'], ['sarif'], NO_FILES],
    [['create-regcred', 'x', '--ver'], ['--verify'], NO_FILES],
    [['create-regcred', 'x', '--no-v'], ['--no-verify'], NO_FILES],
    [['audit', 'images', '-f', ''], [], FILES],
  ]
  const dynamic: Array<[string[], string]> = [
    [['create-regcred', 'x', '-n', ''], 'namespaces'],
    [['create-regcred', 'x', '--namespaces', 'a,'], 'namespaces'],
    [['audit', 'images', '--context', ''], 'contexts'],
    [['audit', 'images', '--ignore-check', 'image-'], 'checks'],
  ]
  for (const [argv, kind] of dynamic) {
    it(`${argv.join(' ')} → ${kind} (looked up, no files)`, () => {
      expect(completions(manifest, argv)).to.deep.equal({candidates: [], directive: NO_FILES, dynamic: kind})
    })
  }

  it('looked-up values are filtered by the word, after its last comma in a list', () => {
    expect(completeValues(['kube-system', 'team-a', 'team-b', 'default'], 'team')).to.deep.equal(['team-a', 'team-b'])
    expect(completeValues(['kube-system', 'team-a', 'team-b'], 'team-a,k')).to.deep.equal(['team-a,kube-system'])
  })
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
    const env = {
      PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}/usr/bin:/bin`,
      KUBECONFIG: '/nonexistent',
    }
    const result = await runProgram(
      KUBECTL,
      ['__complete', 'imgsec', 'whitelist', 'enable', '--backend-placement', ''],
      {env},
    )
    expect(result.stdout.split('\n').filter((line) => line && !line.startsWith('['))).to.deep.equal([
      'static',
      'deployment',
      'external',
      ':4',
    ])
    expect(result.stderr).to.contain('ShellCompDirectiveNoFileComp')
  })

  it("-n <TAB> offers the cluster's namespaces (through kubectl, with the typed --kubeconfig), --context the kubeconfig's contexts, --ignore-check the check IDs", async () => {
    const {FakeKubeApiServer} = await import('../support/fake-kube-api.js')
    const api = await FakeKubeApiServer.start({namespaces: ['team-a', 'team-b', 'other']})
    const kubeconfigFile = path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-complete-kc-')), 'config')
    await api.writeKubeconfig(kubeconfigFile)
    try {
      const env = {PATH: `${path.dirname(process.execPath)}${path.delimiter}/usr/bin:/bin`, KUBECONFIG: '/nonexistent'}
      const complete = (args: string[]) => runProgram(path.join(ROOT, 'bin', 'complete.js'), args, {env})
      const namespaces = await complete(['create-regcred', 'x', '--kubeconfig', kubeconfigFile, '-n', 'team'])
      expect(namespaces.stdout).to.equal('team-a\nteam-b\n:4\n')
      const contexts = await complete(['audit', 'images', '--kubeconfig', kubeconfigFile, '--context', ''])
      expect(contexts.stdout.split('\n').slice(0, -2)).to.have.length.greaterThan(0)
      expect(contexts.stdout.endsWith(':4\n')).to.equal(true)
      const checks = await complete(['audit', 'images', '--ignore-check', 'image-tag-l'])
      expect(checks.stdout).to.equal('image-tag-latest\n:4\n')
      const unreachable = await complete(['create-regcred', 'x', '--kubeconfig', '/nonexistent', '-n', ''])
      expect(unreachable.stdout).to.equal(':4\n')
    } finally {
      await api.stop()
    }
  })
})

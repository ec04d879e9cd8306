import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {unifiedDiff} from '../../src/lib/diff.js'
import {ROOT} from '../support/cli.js'

/** GNU diff as the oracle. */
function gnuDiff(before: string, after: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-diff-'))
  writeFileSync(path.join(dir, 'a'), before)
  writeFileSync(path.join(dir, 'b'), after)
  try {
    return execFileSync('diff', ['-u', '--label', 'a', '--label', 'b', path.join(dir, 'a'), path.join(dir, 'b')], {
      encoding: 'utf8',
    })
  } catch (error) {
    return (error as {stdout: string}).stdout
  }
}

describe('unifiedDiff', () => {
  const manifest = readFileSync(path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml'), 'utf8')
  const lines = manifest.split('\n')
  const cases: Array<[string, string]> = [
    ['one changed line', manifest.replace('NodeRestriction', 'NodeRestriction,ImagePolicyWebhook')],
    [
      'an added line',
      manifest.replace('    - --etcd-servers', '    - --admission-control-config-file=/x\n    - --etcd-servers'),
    ],
    ['a removed line', lines.filter((_, i) => i !== 20).join('\n')],
    [
      'changes far apart (two hunks)',
      manifest.replace('NodeRestriction', 'X').replace('name: kube-apiserver\n  namespace', 'name: api\n  namespace'),
    ],
    [
      'changes close together (one hunk)',
      lines.map((l, i) => (i === 10 || i === 14 ? `${l} # changed` : l)).join('\n'),
    ],
    ['first and last line', ['# new first', ...lines.slice(1, -2), 'last changed', ''].join('\n')],
  ]
  for (const [title, after] of cases) {
    it(`${title}: same as diff -u`, () => {
      expect(unifiedDiff(manifest, after, {from: 'a', to: 'b'})).to.equal(gnuDiff(manifest, after))
    })
  }
  it('no difference, no output', () => expect(unifiedDiff('a\n', 'a\n', {from: 'a', to: 'b'})).to.equal(''))
})

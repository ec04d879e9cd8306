import {expect} from 'chai'
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {UserError} from '../../../src/lib/errors.js'
import {
  backupsOf,
  checkBackupDir,
  kubeadmChangeOf,
  planApiserverPatch,
  planChangesSomething,
  restoreBackup,
} from '../../../src/lib/controlplane/patch-apiserver.js'
import {
  parseSetFlags,
  runApiserverPatch,
  validatePluginLists,
} from '../../../src/lib/controlplane/patch-apiserver-run.js'
import {ROOT} from '../../support/cli.js'

/** A control-plane node's files in a temp dir: the kubeadm 1.32 manifest, a manifests dir, a backup dir. */
function node(): {manifest: string; backupDir: string; original: string} {
  const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-patch-unit-'))
  const manifest = path.join(dir, 'manifests', 'kube-apiserver.yaml')
  mkdirSync(path.dirname(manifest))
  copyFileSync(path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml'), manifest)
  return {manifest, backupDir: path.join(dir, 'backups'), original: readFileSync(manifest, 'utf8')}
}

const base = {enablePlugins: [], disablePlugins: [], setFlags: {}, removeFlags: [], force: false}

describe('patch-apiserver planning (lib/controlplane)', () => {
  it('parseSetFlags: name=value, a leading -- accepted, "=" kept in the value; anything else is refused naming the flag', () => {
    expect(parseSetFlags(['audit-log-maxage=30', '--profiling=false', 'x=a=b'])).to.deep.equal({
      'audit-log-maxage': '30',
      profiling: 'false',
      x: 'a=b',
    })
    expect(() => parseSetFlags(['audit-log-maxage'])).to.throw(
      UserError,
      '--set-flag "audit-log-maxage": expected name=value',
    )
    expect(() => parseSetFlags(['Bad_Name=1'])).to.throw(UserError, 'expected name=value')
  })

  it('a plugin in both lists is refused', () => {
    expect(() => validatePluginLists(['A', 'B'], ['B'])).to.throw(
      UserError,
      'B is in both --enable-plugins and --disable-plugins',
    )
    expect(() => validatePluginLists(['A'], ['B'])).not.to.throw()
  })

  it('backups inside the manifests directory are refused (the kubelet would run them)', () => {
    expect(() =>
      checkBackupDir('/etc/kubernetes/manifests/kube-apiserver.yaml', '/etc/kubernetes/manifests/old'),
    ).to.throw(UserError, 'second API server')
    expect(() =>
      checkBackupDir('/etc/kubernetes/manifests/kube-apiserver.yaml', '/etc/kubernetes/imgsec-backups'),
    ).not.to.throw()
  })

  it('plans exactly the named change, and a plan on the result changes nothing', async () => {
    const {manifest, backupDir, original} = node()
    const plan = await planApiserverPatch({
      ...base,
      manifest,
      backupDir,
      enablePlugins: ['AlwaysPullImages'],
      setFlags: {'audit-log-maxage': '30'},
    })
    expect(planChangesSomething(plan)).to.equal(true)
    expect(plan.manifest.before).to.equal(original)
    expect(plan.manifest.after).to.include('- --enable-admission-plugins=NodeRestriction,AlwaysPullImages\n')
    expect(plan.manifest.after).to.include('- --audit-log-maxage=30\n')
    expect(readFileSync(manifest, 'utf8')).to.equal(original, 'planning writes nothing')
    expect(kubeadmChangeOf(plan)).to.deep.equal({
      setArgs: {'enable-admission-plugins': 'NodeRestriction,AlwaysPullImages', 'audit-log-maxage': '30'},
      removeArgs: [],
      addVolumes: [],
      removeVolumes: [],
    })
    writeFileSync(manifest, plan.manifest.after)
    const again = await planApiserverPatch({
      ...base,
      manifest,
      backupDir,
      enablePlugins: ['AlwaysPullImages'],
      setFlags: {'audit-log-maxage': '30'},
    })
    expect(planChangesSomething(again)).to.equal(false)
  })

  it('a plugin or flag the release does not know is refused before anything is written, unless forced', async () => {
    const {manifest, backupDir} = node()
    const refused = await planApiserverPatch({...base, manifest, backupDir, enablePlugins: ['ImagePolicyWebhok']}).then(
      () => undefined,
      (error: Error) => error,
    )
    expect(refused).to.be.instanceOf(UserError)
    expect(refused!.message).to.include('ImagePolicyWebhok').and.include('ImagePolicyWebhook').and.include('--force')
    const forced = await planApiserverPatch({
      ...base,
      manifest,
      backupDir,
      enablePlugins: ['ImagePolicyWebhok'],
      force: true,
    })
    expect(forced.warnings.join('\n')).to.include('forced despite')
  })

  it('runApiserverPatch writes the plan with a backup and reports each step; restore twice is stable', async () => {
    const {manifest, backupDir, original} = node()
    const plan = await planApiserverPatch({...base, manifest, backupDir, setFlags: {'audit-log-maxage': '30'}})
    const lines: string[] = []
    await runApiserverPatch({plan, backupDir, command: 'unit test', report: (line) => lines.push(line)})
    expect(readFileSync(manifest, 'utf8')).to.equal(plan.manifest.after)
    expect(lines[0]).to.equal(`patched ${manifest}:\n  ${plan.changes.join('\n  ')}`)
    expect(lines[1]).to.match(/^backup of .*kube-apiserver\.yaml: /)
    expect(lines[2]).to.include('kubeadm upgrade')
    const records = backupsOf(manifest, backupDir)
    expect(records).to.have.length(1)
    expect(records[0].command).to.equal('unit test')
    restoreBackup(manifest, backupDir, 'restore 1')
    expect(readFileSync(manifest, 'utf8')).to.equal(original)
    restoreBackup(manifest, backupDir, 'restore 2')
    expect(readFileSync(manifest, 'utf8')).to.equal(original)
  })
})

// patch-apiserver for real: every kind of change the tool writes is started by the real
// kube-apiserver, and a name the real binary refuses is refused by the preflight first.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {KUBE_APISERVER_REFERENCE} from '../../src/lib/controlplane/kube-apiserver-reference.js'
import {parseApiserverHelp, releaseOf} from '../control-plane/apiserver-reference.js'
import {ApiserverStartError, type ControlPlane} from '../control-plane/control-plane.js'
import {ROOT, runCli} from '../support/cli.js'
import {binaries, describeReal, startControlPlane, tempDir} from './support.js'

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml')

describeReal('patch-apiserver: the real kube-apiserver starts with what the tool writes', function () {
  this.timeout(300_000)
  let plane: ControlPlane
  let dir: string
  before(async () => {
    plane = await startControlPlane()
    dir = tempDir('imgsec-patch-real-')
  })
  after(async () => {
    await plane?.stop()
  })

  let n = 0
  function manifestCopy(): {manifest: string; backupDir: string; flags: string[]} {
    const manifestsDir = path.join(dir, `manifests-${++n}`)
    mkdirSync(manifestsDir)
    const manifest = path.join(manifestsDir, 'kube-apiserver.yaml')
    copyFileSync(FIXTURE, manifest)
    chmodSync(manifest, 0o600)
    const backupDir = path.join(dir, `backups-${n}`)
    return {manifest, backupDir, flags: ['--manifest', manifest, '--backup-dir', backupDir]}
  }

  async function patchedAndStarted(args: string[]): Promise<string> {
    const copy = manifestCopy()
    const result = await runCli(['patch-apiserver', ...copy.flags, ...args])
    expect(result.code, result.stderr).to.equal(0)
    await plane.startApiserver({manifest: copy.manifest})
    return copy.manifest
  }

  it('the committed flag and plugin table is what the real binary says (npm run k8s:reference)', () => {
    const binary = binaries!.paths['kube-apiserver']
    const release = releaseOf(execFileSync(binary, ['--version'], {encoding: 'utf8'}))
    const real = parseApiserverHelp(execFileSync(binary, ['--help'], {encoding: 'utf8', maxBuffer: 16 * 1024 * 1024}))
    expect(KUBE_APISERVER_REFERENCE[release], `no table for ${release}: run npm run k8s:reference`).to.deep.equal(real)
    expect(real.admissionPlugins).to.include.members([
      'ImagePolicyWebhook',
      'AlwaysPullImages',
      'EventRateLimit',
      'NodeRestriction',
      'ValidatingAdmissionPolicy',
    ])
  })

  it('--enable-plugins AlwaysPullImages: starts, and the plugin acts (pull policy forced to Always)', async () => {
    await patchedAndStarted(['--enable-plugins', 'AlwaysPullImages'])
    expect(plane.apiserverArgs).to.include('--enable-admission-plugins=NodeRestriction,AlwaysPullImages')
    expect((await plane.kubectl(['create', 'serviceaccount', 'default', '-n', 'default'])).code).to.be.oneOf([0, 1])
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name: 'pull', namespace: 'default'},
      spec: {containers: [{name: 'c', image: 'nginx:1.27', imagePullPolicy: 'IfNotPresent'}]},
    }
    const created = await plane.kubectl(['create', '-f', '-', '-o', 'json'], {input: JSON.stringify(pod)})
    expect(created.code, created.stderr).to.equal(0)
    expect(JSON.parse(created.stdout).spec.containers[0].imagePullPolicy).to.equal('Always')
  })

  it('--disable-plugins NodeRestriction: starts without it', async () => {
    const manifest = await patchedAndStarted(['--disable-plugins', 'NodeRestriction'])
    expect(readFileSync(manifest, 'utf8')).not.to.contain('NodeRestriction')
  })

  it('--enable-plugins EventRateLimit with an admission configuration: starts with the config file', async () => {
    const config = path.join(dir, 'event-rate-limit.yaml')
    writeFileSync(
      config,
      [
        'apiVersion: apiserver.config.k8s.io/v1',
        'kind: AdmissionConfiguration',
        'plugins:',
        '- name: EventRateLimit',
        '  configuration:',
        '    apiVersion: eventratelimit.admission.k8s.io/v1alpha1',
        '    kind: Configuration',
        '    limits:',
        '    - type: Server',
        '      qps: 50',
        '      burst: 100',
        '',
      ].join('\n'),
    )
    await patchedAndStarted(['--enable-plugins', 'EventRateLimit', '--admission-config', config])
    expect(plane.apiserverArgs).to.include(`--admission-control-config-file=${config}`)
  })

  it('--set-flag and --remove-flag: starts with the edited flags', async () => {
    await patchedAndStarted([
      '--set-flag',
      'audit-log-maxage=30',
      '--set-flag',
      'profiling=false',
      '--remove-flag',
      'enable-bootstrap-token-auth',
    ])
    expect(plane.apiserverArgs).to.include.members(['--audit-log-maxage=30', '--profiling=false'])
    expect(plane.apiserverArgs.some((a) => a.startsWith('--enable-bootstrap-token-auth'))).to.equal(false)
  })

  for (const {title, args, said, apiserverSays} of [
    {
      title: 'a misspelt plugin',
      args: ['--enable-plugins', 'ImagePolicyWebhok'],
      said: /--enable-plugins ImagePolicyWebhok: kube-apiserver v1\.\d+ .*has no admission plugin of that name \(did you mean ImagePolicyWebhook\?\)/,
      apiserverSays: /ImagePolicyWebhok/,
    },
    {
      title: 'an unknown flag',
      args: ['--set-flag', 'no-such-flag=1'],
      said: /--set-flag no-such-flag: kube-apiserver v1\.\d+ .*has no flag --no-such-flag/,
      apiserverSays: /unknown flag: --no-such-flag/,
    },
    {
      title: 'a misspelt flag',
      args: ['--set-flag', 'audit-log-maxag=30'],
      said: /did you mean --audit-log-maxage\?/,
      apiserverSays: /unknown flag: --audit-log-maxag/,
    },
    {
      title: 'EventRateLimit without an admission configuration',
      args: ['--enable-plugins', 'EventRateLimit'],
      said: /EventRateLimit needs an entry in the admission configuration/,
      apiserverSays: /limits: Invalid value: .*must not be empty/,
    },
    {
      title: 'removing --service-account-issuer',
      args: ['--remove-flag', 'service-account-issuer'],
      said: /--service-account-issuer is required: kube-apiserver does not start without it/,
      apiserverSays: /service-account-issuer is a required flag/,
    },
    {
      title: 'removing --service-account-key-file',
      args: ['--remove-flag', 'service-account-key-file'],
      said: /--service-account-key-file is required/,
      apiserverSays: /service-account-key-file/,
    },
  ]) {
    it(`${title}: refused before anything is written; forced, the real kube-apiserver indeed refuses to start`, async () => {
      const copy = manifestCopy()
      const refused = await runCli(['patch-apiserver', ...copy.flags, ...args])
      expect(refused.code).to.equal(1)
      expect(refused.stderr).to.match(/^error: refusing to change .* \(nothing written\):/)
      expect(refused.stderr).to.match(said)
      expect(readFileSync(copy.manifest, 'utf8')).to.equal(readFileSync(FIXTURE, 'utf8'))
      const forced = await runCli(['patch-apiserver', ...copy.flags, ...args, '--force'])
      expect(forced.code, forced.stderr).to.equal(0)
      expect(forced.stderr).to.contain('warning: forced despite:')
      let error: unknown
      try {
        await plane.startApiserver({manifest: copy.manifest})
      } catch (caught) {
        error = caught
      }
      expect(error).to.be.instanceOf(ApiserverStartError)
      expect((error as ApiserverStartError).log).to.match(apiserverSays)
    })
  }
})

// --wait for real: a stand-in for the kubelet restarts the real kube-apiserver from its manifest
// whenever the file changes and, like the kubelet, replaces the mirror pod with one carrying the
// new config hash. The tool waits through the restart, smoke-tests, or rolls back.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {chmodSync, copyFileSync, mkdirSync, readFileSync} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'

import type {ControlPlane} from '../control-plane/control-plane.js'
import {ROOT, runCli} from '../support/cli.js'
import {TEST_BACKEND_IMAGE} from '../support/control-plane-node.js'
import {startKubeletSimulator} from '../support/kubelet-simulator.js'
import {freePort} from '../support/registry.js'
import {describeReal, startControlPlane, tempDir, until} from './support.js'

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml')

/** What the kubelet does for the kube-apiserver static pod, as far as --wait can see it. */
function apiserverKubelet(plane: ControlPlane, manifest: string) {
  let seen = readFileSync(manifest, 'utf8')
  let busy = false
  const events: string[] = []
  const mirror = async (text: string) => {
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 32)
    const name = `kube-apiserver-${hostname()}`
    // As the kubelet does for a mirror pod: deleted at once, no grace period.
    await plane.kubectl([
      'delete',
      'pod',
      name,
      '-n',
      'kube-system',
      '--ignore-not-found',
      '--grace-period=0',
      '--force',
    ])
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: 'kube-system',
        labels: {component: 'kube-apiserver', tier: 'control-plane'},
        annotations: {
          'kubernetes.io/config.hash': hash,
          'kubernetes.io/config.mirror': hash,
          'kubernetes.io/config.source': 'file',
        },
      },
      spec: {
        nodeName: hostname(),
        containers: [{name: 'kube-apiserver', image: 'registry.k8s.io/kube-apiserver:v1.37.2'}],
      },
    }
    const created = await plane.kubectl(['create', '-f', '-'], {input: JSON.stringify(pod)})
    events.push(created.code === 0 ? `mirror pod ${hash}` : `mirror pod refused: ${created.stderr.trim()}`)
  }
  const timer = setInterval(async () => {
    if (busy) return
    const text = readFileSync(manifest, 'utf8')
    if (text === seen) return
    busy = true
    seen = text
    try {
      await plane.startApiserver({manifest})
      events.push('started')
      await mirror(text)
    } catch (error) {
      events.push(`failed to start: ${(error as Error).message}`)
    } finally {
      busy = false
    }
  }, 200)
  return {ready: mirror(seen), events, stop: () => clearInterval(timer)}
}

function readyWithin(plane: ControlPlane, ms: number): Promise<boolean> {
  return until(
    '/readyz',
    async () => ((await plane.kubectl(['get', '--raw', '/readyz'])).stdout === 'ok' ? true : undefined),
    ms,
  ).catch(() => false)
}

describeReal('--wait: the real kube-apiserver restarted from the written manifest', function () {
  this.timeout(300_000)
  let plane: ControlPlane
  let manifestsDir: string
  let manifest: string
  let root: string
  let kubelet: ReturnType<typeof apiserverKubelet>
  before(async () => {
    root = tempDir('imgsec-wait-')
    manifestsDir = path.join(root, 'manifests')
    mkdirSync(manifestsDir)
    manifest = path.join(manifestsDir, 'kube-apiserver.yaml')
    copyFileSync(FIXTURE, manifest)
    chmodSync(manifest, 0o600)
    plane = await startControlPlane({manifest})
    for (const ns of ['default', 'kube-system'])
      expect((await plane.kubectl(['create', 'serviceaccount', 'default', '-n', ns])).code).to.equal(0)
    kubelet = apiserverKubelet(plane, manifest)
    await kubelet.ready
  })
  after(async () => {
    kubelet?.stop()
    await plane?.stop()
  })

  it('patch-apiserver --wait --rollback-on-failure: a flag that keeps it down is rolled back, and it comes back', async () => {
    const before = readFileSync(manifest, 'utf8')
    const result = await runCli([
      'patch-apiserver',
      '--manifest',
      manifest,
      '--backup-dir',
      path.join(root, 'backups'),
      '--set-flag',
      'no-such-flag=1',
      '--force',
      '--wait',
      '--timeout',
      '20s',
      '--rollback-on-failure',
      '--kubeconfig',
      plane.kubeconfig,
    ])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(/^warning: forced despite: --set-flag no-such-flag/m)
    expect(result.stderr).to.match(/^error: ROLLED BACK: kube-apiserver did not come back within 20s/m)
    expect(readFileSync(manifest, 'utf8')).to.equal(before)
    expect(kubelet.events.some((event) => /failed to start: kube-apiserver exited/.test(event))).to.equal(true)
    // The stand-in kubelet runs the restored manifest again.
    expect(await readyWithin(plane, 120_000), kubelet.events.join('\n')).to.equal(true)
  })

  it('whitelist enable --wait: waits for the restart, then the smoke test sees nginx:latest refused and nginx:1.27 admitted', async () => {
    expect(await readyWithin(plane, 120_000), kubelet.events.join('\n')).to.equal(true)
    const backend = startKubeletSimulator(manifestsDir, 'imgsec-webhook.yaml')
    try {
      const result = await runCli([
        'whitelist',
        'enable',
        '--config-dir',
        path.join(root, 'imgsec'),
        '--manifests-dir',
        manifestsDir,
        '--backup-dir',
        path.join(root, 'backups'),
        '--port',
        String(await freePort()),
        '--backend-image',
        TEST_BACKEND_IMAGE,
        '--allowed-registries',
        'docker.io,registry.k8s.io',
        '--backend-timeout',
        '60s',
        '--wait',
        '--timeout',
        '90s',
        '--kubeconfig',
        plane.kubeconfig,
      ])
      expect(result.code, `${result.stderr}\n${kubelet.events.join('\n')}`).to.equal(0)
      expect(result.stdout).to.contain(`kube-apiserver is ready (${plane.server}/readyz)`)
      expect(result.stdout).to.contain('smoke test: pod with nginx:latest: refused (as expected)')
      expect(result.stdout).to.match(/smoke test: pod with nginx:1\.27: admitted \(as expected\)/)
      expect(result.stderr).not.to.contain('does not decide as expected')
      expect(plane.apiserverArgs).to.include('--enable-admission-plugins=NodeRestriction,ImagePolicyWebhook')
      // The kubelet's mirror pod is itself reviewed: kube-system is exempt by the backend.
      expect(kubelet.events.at(-1)).to.match(/^mirror pod [0-9a-f]+$/)
    } finally {
      await backend.stop()
    }
  })
})

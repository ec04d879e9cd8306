// ImagePolicyWebhook for real: `whitelist enable` patches a copy of a kubeadm manifest and writes
// its files; the real kube-apiserver then runs exactly the flags that manifest holds, and our
// backend runs as the static pod's command line says (played by the kubelet simulator).
import {expect} from 'chai'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import type {ControlPlane} from '../control-plane/control-plane.js'
import {manifestApiserverFlags} from '../control-plane/control-plane.js'
import {runCli} from '../support/cli.js'
import {
  type ControlPlaneNode,
  controlPlaneNode as makeNode,
  enableOn,
  TEST_BACKEND_IMAGE,
} from '../support/control-plane-node.js'
import {startKubeletSimulator} from '../support/kubelet-simulator.js'
import {describeReal, podAuditLog, podCreateAuditAnnotations, startControlPlane, tempDir} from './support.js'

const BACKEND_IMAGE = TEST_BACKEND_IMAGE
const PAUSE = `registry.k8s.io/pause:3.10@sha256:${'a'.repeat(64)}`

const controlPlaneNode = () => makeNode(tempDir('imgsec-ipw-'))
type Node = ControlPlaneNode

function podJson(
  name: string,
  namespace: string,
  image: string,
  extra: {annotations?: Record<string, string>; initImage?: string} = {},
): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {name, namespace, ...(extra.annotations ? {annotations: extra.annotations} : {})},
    spec: {
      containers: [{name: 'main', image}],
      ...(extra.initImage ? {initContainers: [{name: 'init', image: extra.initImage}]} : {}),
    },
  })
}

describeReal(
  'ImagePolicyWebhook: whitelist enable, then the real kube-apiserver with the patched manifest',
  function () {
    this.timeout(300_000)
    let node: Node
    let kubelet: ReturnType<typeof startKubeletSimulator>
    let plane: ControlPlane
    let auditLog: string
    let auditArgs: string[]
    const auditAnnotations = (name: string) => podCreateAuditAnnotations(auditLog, name)
    const create = (name: string, namespace: string, image: string, extra?: Parameters<typeof podJson>[3]) =>
      plane.kubectl(['create', '-f', '-'], {input: podJson(name, namespace, image, extra)})
    const enable = (extra: string[] = []) =>
      runCli([
        ...enableOn(node, BACKEND_IMAGE),
        '--allowed-registries',
        'docker.io,registry.k8s.io',
        '--backend-timeout',
        '60s',
        ...extra,
      ])

    let enableStderr = ''
    let enableStdout = ''
    // Pods running before the whitelist: which of them the impact report says would be refused.
    const LEGACY: Array<[name: string, image: string, annotations?: Record<string, string>]> = [
      ['old-quay', 'quay.io/acme/app:1.0'],
      ['old-latest', 'nginx:latest'],
      ['old-pinned', 'nginx:1.27'],
      ['old-glass', 'quay.io/acme/app:1.0', {'alpha.image-policy.k8s.io/break-glass': 'true'}],
    ]

    before(async () => {
      node = await controlPlaneNode()
      // Besides the manifest's flags, only an audit log: where the plugin's audit annotations show.
      ;({args: auditArgs, file: auditLog} = podAuditLog(tempDir('imgsec-ipw-audit-')))
      // First the cluster as it was, with pods already running.
      plane = await startControlPlane({extraArgs: auditArgs})
      // No kube-controller-manager here: the service accounts the ServiceAccount plugin looks up are made by hand.
      for (const ns of ['default', 'kube-system', 'legacy']) {
        if (ns === 'legacy') expect((await plane.kubectl(['create', 'namespace', ns])).code).to.equal(0)
        expect((await plane.kubectl(['create', 'serviceaccount', 'default', '-n', ns])).code).to.equal(0)
      }
      for (const [name, image, annotations] of LEGACY)
        expect((await create(name, 'legacy', image, {annotations})).code).to.equal(0)
      expect((await create('system-old', 'kube-system', 'quay.io/acme/agent:1.0')).code).to.equal(0)
      // Then whitelist enable, with the kubeconfig (impact before change), and the kubelet's restart.
      kubelet = startKubeletSimulator(node.manifestsDir, 'imgsec-webhook.yaml')
      // Short cache TTLs, so that a policy change or a stopped backend shows within the test.
      // kubeadm's record of the cluster configuration, which "kubeadm upgrade" renders the manifest from.
      const kubeadmConfig = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {name: 'kubeadm-config', namespace: 'kube-system'},
        data: {
          ClusterConfiguration:
            'apiServer:\n  extraArgs:\n  - name: authorization-mode\n    value: Node,RBAC\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.2\n',
        },
      }
      expect((await plane.kubectl(['create', '-f', '-'], {input: JSON.stringify(kubeadmConfig)})).code).to.equal(0)
      const enabled = await enable([
        '--allow-ttl',
        '1',
        '--deny-ttl',
        '1',
        '--kubeconfig',
        plane.kubeconfig,
        '--persist-kubeadm-config',
      ])
      expect(enabled.code, `${enabled.stderr}\n${kubelet.output()}`).to.equal(0)
      enableStderr = enabled.stderr
      enableStdout = enabled.stdout
      await plane.startApiserver({manifest: node.manifest, extraArgs: auditArgs})
    })
    after(async () => {
      await kubelet?.stop()
      await plane?.stop()
    })

    it('the real kube-apiserver runs the patched flags: ImagePolicyWebhook and our admission configuration', () => {
      const patched = manifestApiserverFlags(readFileSync(node.manifest, 'utf8'))
      expect(patched).to.include('--enable-admission-plugins=NodeRestriction,ImagePolicyWebhook')
      expect(patched).to.include(
        `--admission-control-config-file=${path.join(node.configDir, 'admission-configuration.yaml')}`,
      )
      for (const flag of patched.filter((f) => /^--(enable-admission-plugins|admission-control-config-file)=/.test(f)))
        expect(plane.apiserverArgs).to.include(flag)
    })

    it('impact before change: enable listed exactly the running pods whose next update the real API server now refuses', async () => {
      const listed = enableStderr
        .split('\n')
        .filter((line) => line.startsWith('  '))
        .map((line) => line.trim().split(' ')[0])
      expect(enableStderr).to.match(
        /^impact: 2 of \d+ running pods \(2 workloads\) would be refused on their next update or re-creation: legacy 2$/m,
      )
      expect(listed).to.deep.equal(['legacy/Pod/old-latest', 'legacy/Pod/old-quay'])
      const refused: string[] = []
      for (const [name] of LEGACY) {
        const label = await plane.kubectl(['label', 'pod', name, '-n', 'legacy', 'touched=yes'])
        if (label.code !== 0) {
          expect(label.stderr).to.contain('image policy webhook backend denied one or more images')
          refused.push(`legacy/Pod/${name}`)
        }
      }
      expect(refused.sort()).to.deep.equal(listed)
      // kube-system is exempt by the backend: not listed, and its update goes through.
      expect((await plane.kubectl(['label', 'pod', 'system-old', '-n', 'kube-system', 'touched=yes'])).code).to.equal(0)
    })

    it('--persist-kubeadm-config recorded the plugin, the config file and its mount in kubeadm-config', async () => {
      expect(enableStdout).to.contain('kubeadm-config: ')
      expect(enableStdout).not.to.contain('"kubeadm upgrade" regenerates')
      const config = JSON.parse(
        (await plane.kubectl(['get', 'configmap', 'kubeadm-config', '-n', 'kube-system', '-o', 'json'])).stdout,
      ).data.ClusterConfiguration as string
      expect(config).to.contain('- name: enable-admission-plugins\n    value: NodeRestriction,ImagePolicyWebhook')
      expect(config).to.contain(
        `- name: admission-control-config-file\n    value: ${path.join(node.configDir, 'admission-configuration.yaml')}`,
      )
      expect(config).to.contain(`hostPath: ${node.configDir}`)
    })

    it('a policy that would refuse kube-system workloads is refused before anything is written, unless forced', async () => {
      const other = await controlPlaneNode()
      const strict = path.join(tempDir('imgsec-ipw-policy-'), 'strict.yaml')
      writeFileSync(
        strict,
        'allowedRegistries: [docker.io, registry.k8s.io, gcr.io]\nexemptNamespaces: []\nexemptImages: ["registry.k8s.io/*", "gcr.io/distroless/*"]\n',
      )
      const refused = await runCli([
        'whitelist',
        'enable',
        ...other.flags,
        '--backend-image',
        BACKEND_IMAGE,
        '--policy',
        strict,
        '--kubeconfig',
        plane.kubeconfig,
        '--dry-run=client',
      ])
      expect(refused.code).to.equal(1)
      expect(refused.stderr).to.match(
        /^error: refusing a policy that would refuse control-plane workloads on their next update or re-creation \(nothing was changed\):\n {2}kube-system\/Pod\/system-old would be refused \(.*quay\.io\/acme\/agent:1\.0.*\)\n/,
      )
      const forced = await runCli([
        'whitelist',
        'enable',
        ...other.flags,
        '--backend-image',
        BACKEND_IMAGE,
        '--policy',
        strict,
        '--kubeconfig',
        plane.kubeconfig,
        '--dry-run=client',
        '--force',
      ])
      expect(forced.code, forced.stderr).to.equal(0)
      expect(forced.stderr).to.match(/^forced despite: kube-system\/Pod\/system-old would be refused/m)
    })

    it('whitelist status: pod creation checked', async () => {
      const status = await runCli(['whitelist', 'status', ...node.flags])
      expect(status.code, status.stderr).to.equal(0)
      expect(status.stdout.split('\n')[0]).to.match(/^pod creation: +checked: /)
    })

    it("kubectl run test --image=httpd is refused with the backend's reason", async () => {
      const result = await plane.kubectl(['run', 'test', '--image=httpd', '-n', 'default'])
      expect(result.code).to.equal(1)
      // README quotes this message.
      expect(result.stderr).to.equal(
        'Error from server (Forbidden): pods "test" is forbidden: image policy webhook backend denied one or more images: image policy (kubectl-imgsec) refused 1 image: image-tag-missing: httpd has no tag, so it means :latest; name a version\n',
      )
    })

    it('nginx:latest is refused because of the latest tag', async () => {
      const result = await plane.kubectl(['run', 'latest', '--image=nginx:latest', '-n', 'default'])
      expect(result.code).to.equal(1)
      expect(result.stderr).to.contain('image policy webhook backend denied one or more images')
      expect(result.stderr).to.match(/latest/)
    })

    it('a registry outside the allowlist is refused, in init containers too', async () => {
      const result = await create('elsewhere', 'default', 'quay.io/evil/miner:1.0')
      expect(result.code).to.equal(1)
      expect(result.stderr).to.contain('quay.io/evil/miner:1.0')
      const init = await create('init-elsewhere', 'default', 'nginx:1.27', {initImage: 'quay.io/evil/miner:1.0'})
      expect(init.code).to.equal(1)
      expect(init.stderr).to.contain('quay.io/evil/miner:1.0')
    })

    it('an allowed, pinned image is admitted', async () => {
      const result = await create('pinned', 'default', PAUSE)
      expect(result.code, result.stderr).to.equal(0)
      const tagged = await create('tagged', 'default', 'nginx:1.27')
      expect(tagged.code, tagged.stderr).to.equal(0)
    })

    it('ephemeral containers (kubectl debug) are reviewed', async () => {
      const result = await plane.kubectl([
        'debug',
        'pinned',
        '-n',
        'default',
        '--image=quay.io/evil/debug:1.0',
        '-c',
        'dbg',
      ])
      expect(result.code).to.equal(1)
      expect(result.stderr).to.contain('image policy webhook backend denied one or more images')
    })

    it('kube-system is exempt — by our backend, not by the plugin', async () => {
      const result = await create('system-thing', 'kube-system', 'quay.io/evil/miner:1.0')
      expect(result.code, result.stderr).to.equal(0)
    })

    it('break-glass lets a refused pod through, and the backend logs it', async () => {
      const result = await create('glass', 'default', 'quay.io/evil/miner:1.1', {
        annotations: {'alpha.image-policy.k8s.io/break-glass': 'true'},
      })
      expect(result.code, result.stderr).to.equal(0)
      expect(kubelet.output()).to.match(/break-glass/)
      // The backend's auditAnnotations reach the API server's audit log under the plugin's prefix.
      expect(await auditAnnotations('glass')).to.deep.include({
        'imagepolicywebhook.image-policy.k8s.io/break-glass': 'true',
      })
    })

    it('UPDATEs are reviewed: after the allowlist is tightened, a label change on a running pod is refused', async () => {
      const removed = await runCli(['whitelist', 'remove-registry', 'docker.io', '--config-dir', node.configDir])
      expect(removed.code, removed.stderr).to.equal(0)
      await new Promise((resolve) => setTimeout(resolve, 1500)) // the plugin's allow TTL (1 s)
      const label = await plane.kubectl(['label', 'pod', 'tagged', '-n', 'default', 'touched=yes'])
      expect(label.code).to.equal(1)
      expect(label.stderr).to.contain('image policy webhook backend denied one or more images')
      // DELETE is not reviewed.
      const added = await runCli(['whitelist', 'add-registry', 'docker.io', '--config-dir', node.configDir])
      expect(added.code, added.stderr).to.equal(0)
    })

    it('after rotate-certs the real kube-apiserver still reaches the backend (no restart of either)', async () => {
      const rotated = await runCli(['whitelist', 'rotate-certs', '--config-dir', node.configDir])
      expect(rotated.code, rotated.stderr).to.equal(0)
      await new Promise((resolve) => setTimeout(resolve, 1500)) // the backend's reload, and the plugin's TTL
      const refused = await create('after-rotation', 'default', 'quay.io/evil/miner:3.0')
      expect(refused.code).to.equal(1)
      expect(refused.stderr).to.contain(
        'image policy webhook backend denied one or more images: image policy (kubectl-imgsec) refused 1 image',
      )
      const admitted = await create('after-rotation-ok', 'default', 'nginx:1.26')
      expect(admitted.code, admitted.stderr).to.equal(0)
    })

    describe('with the backend stopped and defaultAllow: false', () => {
      before(async () => {
        await kubelet.stop()
        await new Promise((resolve) => setTimeout(resolve, 1500)) // cached decisions expire
      })

      it('every new pod is refused, in kube-system too, break-glass included', async () => {
        for (const [name, namespace, annotations] of [
          ['down-default', 'default', undefined],
          ['down-system', 'kube-system', undefined],
          ['down-glass', 'default', {'alpha.image-policy.k8s.io/break-glass': 'true'}],
        ] as const) {
          const result = await create(name, namespace, 'nginx:1.27', {annotations})
          expect(result.code, `${name}: ${result.stdout}`).to.equal(1)
          // What a user sees (README, troubleshooting): no "denied" wording, the dial error itself.
          expect(result.stderr, result.stderr).to.match(
            new RegExp(
              `^Error from server \\(Forbidden\\): (error when creating "STDIN": )?pods "${name}" is forbidden: Post "https://127\\.0\\.0\\.1:${node.port}/image_policy[^"]*": dial tcp 127\\.0\\.0\\.1:${node.port}: connect: connection refused`,
            ),
          )
        }
      })

      it('whitelist status says BLOCKED in its first line and exits 2', async () => {
        const status = await runCli(['whitelist', 'status', ...node.flags])
        expect(status.code, status.stderr).to.equal(2)
        expect(status.stdout.split('\n')[0]).to.equal(
          `pod creation:          BLOCKED: the backend at https://127.0.0.1:${node.port}/image_policy does not answer and defaultAllow is false: every pod creation and update in every namespace is refused, kube-system included; bring the backend back or run "kubectl imgsec whitelist disable"`,
        )
      })

      it('an UPDATE of an existing pod is refused; a DELETE is not reviewed', async () => {
        const label = await plane.kubectl(['label', 'pod', 'pinned', '-n', 'default', 'touched=again'])
        expect(label.code).to.equal(1)
        expect(label.stderr).to.match(/forbidden: .*connection refused/)
        const deleted = await plane.kubectl(['delete', 'pod', 'tagged', '-n', 'default', '--wait=false'])
        expect(deleted.code, deleted.stderr).to.equal(0)
      })
    })

    describe('with defaultAllow: true and the backend stopped', () => {
      before(async () => {
        kubelet = startKubeletSimulator(node.manifestsDir, 'imgsec-webhook.yaml')
        const disabled = await runCli([
          'whitelist',
          'disable',
          '--config-dir',
          node.configDir,
          '--backup-dir',
          node.backupDir,
          '--kubeconfig',
          plane.kubeconfig,
        ])
        expect(disabled.code, disabled.stderr).to.equal(0)
        // What enable recorded in kubeadm-config is taken out again: "kubeadm upgrade" must not bring the plugin back.
        const config = JSON.parse(
          (await plane.kubectl(['get', 'configmap', 'kubeadm-config', '-n', 'kube-system', '-o', 'json'])).stdout,
        ).data.ClusterConfiguration as string
        expect(config).not.to.contain('ImagePolicyWebhook')
        expect(config).not.to.contain('admission-control-config-file')
        expect(config).not.to.contain(node.configDir)
        const enabled = await enable(['--default-allow', '--allow-ttl', '1', '--deny-ttl', '1'])
        expect(enabled.code, `${enabled.stderr}\n${kubelet.output()}`).to.equal(0)
        await plane.startApiserver({manifest: node.manifest, extraArgs: auditArgs})
        await kubelet.stop()
      })

      it('whitelist status says UNCHECKED and exits 0', async () => {
        const status = await runCli(['whitelist', 'status', ...node.flags])
        expect(status.code, status.stderr).to.equal(0)
        expect(status.stdout.split('\n')[0]).to.match(
          /^pod creation: +UNCHECKED: the backend at \S+ does not answer and defaultAllow is true: every pod is admitted without an image check$/,
        )
      })

      it('a pod with a refused image is admitted unchecked; the only trace is an audit annotation (the pod is not annotated)', async () => {
        const result = await create('open', 'default', 'quay.io/evil/miner:2.0')
        expect(result.code, result.stderr).to.equal(0)
        const pod = JSON.parse((await plane.kubectl(['get', 'pod', 'open', '-n', 'default', '-o', 'json'])).stdout)
        // The plugin sets alpha.image-policy.k8s.io/failed-open on the object in the validating
        // phase, where changes are no longer stored.
        expect(pod.metadata.annotations ?? {}).not.to.have.property('alpha.image-policy.k8s.io/failed-open')
        expect(await auditAnnotations('open')).to.deep.include({
          'imagepolicywebhook.image-policy.k8s.io/failed-open': 'true',
        })
      })
    })
  },
)

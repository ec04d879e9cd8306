// Keyless requireSignature for real: `whitelist enable --policy` with a keyless entry (its trusted
// root copied for the static backend), the real kube-apiserver with the patched manifest, our
// backend as the static pod's command line says (the kubelet simulator), images in a real
// registry signed by the real cosign with certificates from a test CA.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import type {ControlPlane} from '../control-plane/control-plane.js'
import {runCli} from '../support/cli.js'
import {controlPlaneNode, type ControlPlaneNode, TEST_BACKEND_IMAGE} from '../support/control-plane-node.js'
import {cosignBinary, generateKeyPair} from '../support/cosign.js'
import {chainPem, createAuthority, issueLeaf, signWithCertificate, writeTrustedRoot} from '../support/keyless.js'
import {startKubeletSimulator} from '../support/kubelet-simulator.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {describeReal, startControlPlane, tempDir} from './support.js'

const pod = (name: string, image: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {name, namespace: 'default'},
    spec: {containers: [{name: 'main', image}]},
  })

describeReal(
  'requireSignature keyless: the trusted identity admitted, another refused by the real kube-apiserver',
  function () {
    this.timeout(300_000)
    let node: ControlPlaneNode
    let kubelet: ReturnType<typeof startKubeletSimulator>
    let plane: ControlPlane
    let registry: RunningRegistry
    const images: Record<string, string> = {}

    before(async function () {
      requireRegistry(this, 'the image-signature-keyless tests on the real control plane')
      if (!cosignBinary()) this.skip()
      const dir = tempDir('imgsec-k8s-keyless-')
      registry = await startRegistry()
      const signer = await generateKeyPair(dir, 'signer')
      const ca = await createAuthority('k8s keyless root')
      writeTrustedRoot(path.join(dir, 'trusted_root.json'), [ca])
      const chainFile = path.join(dir, 'chain.pem')
      writeFileSync(chainFile, chainPem(ca))
      for (const name of ['release', 'intruder']) {
        const {digest} = await registry.pushImage(`ci/${name}`, '1.0')
        const certificateFile = path.join(dir, `${name}.pem`)
        writeFileSync(
          certificateFile,
          await issueLeaf(ca, signer.publicKeyFile, {san: `email:${name}@example.com`, issuer: 'https://ci.example'}),
        )
        await signWithCertificate(registry, `ci/${name}`, digest, signer, {certificateFile, chainFile})
        images[name] = `${registry.host}/ci/${name}@${digest}`
      }
      const policy = path.join(dir, 'policy.yaml')
      writeFileSync(
        policy,
        [
          `allowedRegistries: [registry.k8s.io, "${registry.host}"]`,
          'requireSignature:',
          `- repositories: ["${registry.host}/ci"]`,
          '  keyless:',
          '    trustedRoot: trusted_root.json',
          '    identities: [{issuer: https://ci.example, subject: release@example.com}]',
          '',
        ].join('\n'),
      )
      node = await controlPlaneNode(tempDir('imgsec-k8s-keyless-node-'))
      plane = await startControlPlane()
      expect((await plane.kubectl(['create', 'serviceaccount', 'default', '-n', 'default'])).code).to.equal(0)
      kubelet = startKubeletSimulator(node.manifestsDir, 'imgsec-webhook.yaml')
      const enabled = await runCli([
        'whitelist',
        'enable',
        ...node.flags,
        '--port',
        String(node.port),
        '--backend-image',
        TEST_BACKEND_IMAGE,
        '--policy',
        policy,
        '--allow-ttl',
        '1',
        '--deny-ttl',
        '1',
        '--backend-timeout',
        '60s',
      ])
      expect(enabled.code, `${enabled.stderr}\n${kubelet.output()}`).to.equal(0)
      await plane.startApiserver({manifest: node.manifest})
    })
    after(async () => {
      await kubelet?.stop()
      await plane?.stop()
      await registry?.stop()
    })

    const create = (name: string, image: string) => plane.kubectl(['create', '-f', '-'], {input: pod(name, image)})

    it('admits a pod whose image carries a certificate of the trusted identity', async () => {
      const result = await create('release', images.release)
      expect(result.code, result.stderr).to.equal(0)
    })

    it("refuses an image signed by another identity, with the backend's reason", async () => {
      const result = await create('intruder', images.intruder)
      expect(result.code).to.not.equal(0)
      expect(result.stderr).to.match(
        /image-signature-invalid: .* has a certificate for intruder@example\.com \(issuer https:\/\/ci\.example\), which matches none of: subject release@example\.com/,
      )
    })
  },
)

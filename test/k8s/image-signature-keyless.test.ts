// Keyless requireSignature for real: `whitelist enable --policy` with a keyless entry (its trusted
// root copied for the static backend), the real kube-apiserver with the patched manifest, our
// backend as the static pod's command line says (the kubelet simulator), images in a real
// registry signed by the real cosign with certificates from a test CA.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {type WhitelistedApiserver, whitelistedApiserver} from '../support/control-plane-node.js'
import {cosignBinary, generateKeyPair} from '../support/cosign.js'
import {chainPem, createAuthority, issueLeaf, signWithCertificate, writeTrustedRoot} from '../support/keyless.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {describeReal, startControlPlane, tempDir} from './support.js'

describeReal(
  'requireSignature keyless: the trusted identity admitted, another refused by the real kube-apiserver',
  function () {
    this.timeout(300_000)
    let whitelisted: WhitelistedApiserver | undefined
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
      whitelisted = await whitelistedApiserver(await startControlPlane(), tempDir('imgsec-k8s-keyless-node-'), [
        '--policy',
        policy,
      ])
    })
    after(async () => {
      await whitelisted?.stop()
      await registry?.stop()
    })

    const create = (name: string, image: string) => whitelisted!.createPod(name, image)

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

// requireSignature for real: `whitelist enable --require-signature --trusted-key cosign.pub`, the
// real kube-apiserver with the patched manifest, our backend as the static pod's command line says
// (the kubelet simulator), images in a real registry signed by cosign.
import {expect} from 'chai'

import {type WhitelistedApiserver, whitelistedApiserver} from '../support/control-plane-node.js'
import {generateKeyPair, signImage} from '../support/cosign.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {describeReal, startControlPlane, tempDir} from './support.js'

describeReal('requireSignature: signed images admitted, others refused by the real kube-apiserver', function () {
  this.timeout(300_000)
  let whitelisted: WhitelistedApiserver | undefined
  let registry: RunningRegistry
  const digests: Record<string, string> = {}

  before(async function () {
    requireRegistry(this, 'the image-signature tests on the real control plane')
    const dir = tempDir('imgsec-k8s-sig-')
    registry = await startRegistry()
    const trusted = await generateKeyPair(dir, 'cosign')
    const other = await generateKeyPair(dir, 'other')
    for (const name of ['signed', 'unsigned', 'stranger'])
      digests[name] = (await registry.pushImage(`team/${name}`, '1.0')).digest
    await signImage(registry, 'team/signed', digests.signed, trusted)
    await signImage(registry, 'team/stranger', digests.stranger, other)
    whitelisted = await whitelistedApiserver(await startControlPlane(), tempDir('imgsec-k8s-sig-node-'), [
      '--allowed-registries',
      `registry.k8s.io,${registry.host}`,
      '--require-signature',
      '--trusted-key',
      trusted.publicKeyFile,
    ])
  })
  after(async () => {
    await whitelisted?.stop()
    await registry?.stop()
  })

  const create = (name: string, image: string) => whitelisted!.createPod(name, image)

  it('admits a pod whose image is pinned by digest and signed by the trusted key', async () => {
    const result = await create('signed', `${registry.host}/team/signed@${digests.signed}`)
    expect(result.code, result.stderr).to.equal(0)
  })

  it("refuses an unsigned image, one signed by another key and a tag-only one, with the backend's reason", async () => {
    const unsigned = await create('unsigned', `${registry.host}/team/unsigned@${digests.unsigned}`)
    expect(unsigned.code).to.not.equal(0)
    expect(unsigned.stderr).to.include('image-signature-missing')
    const stranger = await create('stranger', `${registry.host}/team/stranger@${digests.stranger}`)
    expect(stranger.code).to.not.equal(0)
    expect(stranger.stderr).to.match(/image-signature-invalid: .* is not by a trusted key/)
    const tagged = await create('tagged', `${registry.host}/team/signed:1.0`)
    expect(tagged.code).to.not.equal(0)
    expect(tagged.stderr).to.include('pin by digest to verify its signature')
  })
})

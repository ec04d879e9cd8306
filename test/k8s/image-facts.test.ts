// requireNonRootImage and forbidShell for real: `whitelist enable --policy` with the content rules,
// the real kube-apiserver with the patched manifest, our backend as the static pod's command line
// says (the kubelet simulator), images built by the tests in a real registry.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {type WhitelistedApiserver, whitelistedApiserver} from '../support/control-plane-node.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {buildTestImage, DEBIAN_LIKE, DISTROLESS_LIKE, layerOf, pushTestImage} from '../support/test-images.js'
import {describeReal, startControlPlane, tempDir} from './support.js'

describeReal(
  'requireNonRootImage and forbidShell: the real kube-apiserver asks our backend, which reads the images',
  function () {
    this.timeout(300_000)
    let whitelisted: WhitelistedApiserver | undefined
    let registry: RunningRegistry
    const digests: Record<string, string> = {}

    before(async function () {
      requireRegistry(this, 'the image-facts tests on the real control plane')
      const dir = tempDir('imgsec-k8s-facts-')
      registry = await startRegistry()
      const recent = new Date().toISOString()
      const debian = buildTestImage({layers: [await layerOf(DEBIAN_LIKE)], created: recent})
      const distroless = buildTestImage({layers: [await layerOf(DISTROLESS_LIKE)], user: '65532', created: recent})
      digests.debian = (await pushTestImage(registry, 'team/debian', '12', debian)).digest
      digests.distroless = (await pushTestImage(registry, 'team/distroless', '1', distroless)).digest
      const policy = path.join(dir, 'policy.yaml')
      writeFileSync(
        policy,
        `allowedRegistries: [registry.k8s.io, "${registry.host}"]\nrequireNonRootImage: true\nforbidShell: true\n`,
      )
      whitelisted = await whitelistedApiserver(await startControlPlane(), tempDir('imgsec-k8s-facts-node-'), [
        '--policy',
        policy,
      ])
    })
    after(async () => {
      await whitelisted?.stop()
      await registry?.stop()
    })

    const create = (name: string, image: string, securityContext?: Record<string, unknown>) =>
      whitelisted!.createPod(name, image, securityContext)

    it('admits a pod whose image runs as non-root and has no shell (a tag, resolved at review time)', async () => {
      const result = await create('distroless', `${registry.host}/team/distroless:1`)
      expect(result.code, result.stderr).to.equal(0)
    })

    it("refuses a root image with a shell with the backend's evidence, even when the pod sets runAsUser (the review does not carry it)", async () => {
      const image = `${registry.host}/team/debian@${digests.debian}`
      const result = await create('debian', image, {runAsUser: 1000, runAsNonRoot: true})
      expect(result.code).to.not.equal(0)
      expect(result.stderr).to.include(`image-runs-as-root: ${image} sets no USER, so it runs as root`)
      expect(result.stderr).to.match(/image-has-shell: .* has a shell: [^;]*\/bin\/sh/)
    })
  },
)

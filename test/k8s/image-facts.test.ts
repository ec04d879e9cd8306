// requireNonRootImage and forbidShell for real: `whitelist enable --policy` with the content rules,
// the real kube-apiserver with the patched manifest, our backend as the static pod's command line
// says (the kubelet simulator), images built by the tests in a real registry.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import type {ControlPlane} from '../control-plane/control-plane.js'
import {runCli} from '../support/cli.js'
import {controlPlaneNode, type ControlPlaneNode, TEST_BACKEND_IMAGE} from '../support/control-plane-node.js'
import {startKubeletSimulator} from '../support/kubelet-simulator.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {buildTestImage, DEBIAN_LIKE, DISTROLESS_LIKE, layerOf, pushTestImage} from '../support/test-images.js'
import {describeReal, startControlPlane, tempDir} from './support.js'

const pod = (name: string, image: string, securityContext?: Record<string, unknown>) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {name, namespace: 'default'},
    spec: {containers: [{name: 'main', image, ...(securityContext ? {securityContext} : {})}]},
  })

describeReal(
  'requireNonRootImage and forbidShell: the real kube-apiserver asks our backend, which reads the images',
  function () {
    this.timeout(300_000)
    let node: ControlPlaneNode
    let kubelet: ReturnType<typeof startKubeletSimulator>
    let plane: ControlPlane
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
      node = await controlPlaneNode(tempDir('imgsec-k8s-facts-node-'))
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

    const create = (name: string, image: string, securityContext?: Record<string, unknown>) =>
      plane.kubectl(['create', '-f', '-'], {input: pod(name, image, securityContext)})

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

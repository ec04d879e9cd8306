// audit images --inspect against the real kube-apiserver: a pull secret made by the real kubectl
// (create secret docker-registry), attached to a service account, its Deployment's pods made by the
// real controllers; the image is read from a real docker-registry behind basic auth with it.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {stringify} from 'yaml'

import type {ControlPlane} from '../control-plane/control-plane.js'
import {runCli} from '../support/cli.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {buildTestImage, DEBIAN_LIKE, layerOf, pushTestImage} from '../support/test-images.js'
import {describeReal, freshNamespace, sharedControlPlane, tempDir, until} from './support.js'

const USER = 'k8s-puller'
const PASSWORD = 'K8s-Canary-Pa55word'

describeReal('audit images --inspect against the real kube-apiserver', function () {
  this.timeout(180_000)
  let plane: ControlPlane
  let registry: RunningRegistry
  let ns: string

  before(async function () {
    requireRegistry(this, 'the audit-inspect tests on the real control plane')
    registry = await startRegistry({users: {[USER]: PASSWORD}})
    await pushTestImage(
      registry,
      'team/web',
      '1.0',
      buildTestImage({layers: [await layerOf(DEBIAN_LIKE)], created: '2019-01-01T00:00:00Z'}),
      {username: USER, password: PASSWORD},
    )
    plane = await sharedControlPlane()
    ns = await freshNamespace(plane, 'inspect')
    const secret = await plane.kubectl([
      'create',
      'secret',
      'docker-registry',
      'regcred',
      '-n',
      ns,
      `--docker-server=${registry.host}`,
      `--docker-username=${USER}`,
      `--docker-password=${PASSWORD}`,
    ])
    expect(secret.code, secret.stderr).to.equal(0)
    const file = path.join(tempDir('imgsec-inspect-real-'), 'objects.yaml')
    writeFileSync(
      file,
      [
        {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: {name: 'web', namespace: ns},
          imagePullSecrets: [{name: 'regcred'}],
        },
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: {name: 'web', namespace: ns},
          spec: {
            replicas: 2,
            selector: {matchLabels: {app: 'web'}},
            template: {
              metadata: {labels: {app: 'web'}},
              spec: {serviceAccountName: 'web', containers: [{name: 'web', image: `${registry.host}/team/web:1.0`}]},
            },
          },
        },
      ]
        .map((object) => stringify(object))
        .join('---\n'),
    )
    const applied = await plane.kubectl(['apply', '-f', file])
    expect(applied.code, applied.stderr).to.equal(0)
    await until(
      '2 pods',
      async () => {
        const pods = JSON.parse((await plane.kubectl(['get', 'pods', '-n', ns, '-o', 'json'])).stdout)
          .items as unknown[]
        return pods.length >= 2 ? true : undefined
      },
      30_000,
      200,
    )
  })
  after(async () => {
    await registry?.stop()
  })

  it("reads the image with the service account's pull secret: root user, shell, age, each once per workload", async () => {
    const result = await runCli([
      'audit',
      'images',
      '--inspect',
      '-n',
      ns,
      '--kubeconfig',
      plane.kubeconfig,
      '-o',
      'json',
      '--fail-on',
      'none',
    ])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout + result.stderr).to.not.contain(PASSWORD)
    const doc = JSON.parse(result.stdout) as {
      findings: Array<{check: string; resource: {kind: string; name: string}; message: string}>
      images: Array<{image: string; user: string; created: string; layers: number}>
    }
    const image = `${registry.host}/team/web:1.0`
    expect(doc.images.map((i) => [i.image, i.user, i.created, i.layers])).to.deep.equal([
      [image, '', '2019-01-01T00:00:00Z', 1],
    ])
    const inspected = doc.findings.filter((f) =>
      ['image-runs-as-root', 'image-has-shell', 'image-stale'].includes(f.check),
    )
    expect(inspected.map((f) => `${f.check} ${f.resource.kind}/${f.resource.name}`)).to.deep.equal([
      'image-runs-as-root Deployment/web',
      'image-has-shell Deployment/web',
      'image-stale Deployment/web',
    ])
    expect(result.stderr).to.not.contain('--inspect')
  })
})

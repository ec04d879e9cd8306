import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {runCli} from '../support/cli.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {
  buildTestImage,
  DEBIAN_LIKE,
  DISTROLESS_LIKE,
  dockerSaveTar,
  layerOf,
  ociLayoutTar,
  pushTestImage,
  type TestImageSpec,
} from '../support/test-images.js'

interface JsonFinding {
  check: string
  severity: string
  resource: {kind: string; name: string}
  container: string
  image: string
  message: string
}

const deployment = (name: string, images: string[]) =>
  [
    'apiVersion: apps/v1',
    'kind: Deployment',
    `metadata: {name: ${name}, namespace: shop}`,
    'spec:',
    '  template:',
    '    spec:',
    '      containers:',
    ...images.flatMap((image, i) => [`      - name: c${i}`, `        image: ${image}`]),
  ].join('\n') + '\n'

describe('audit images -f with --image-archive (built CLI; real registry for the rest)', function () {
  this.timeout(120_000)
  let dir: string
  let saved: string
  let oci: string
  let ociDigest: string
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-archive-files-'))
    saved = path.join(dir, 'nginx.tar')
    writeFileSync(
      saved,
      await dockerSaveTar([
        {tag: 'nginx:1.25', spec: {layers: [await layerOf(DEBIAN_LIKE, 'none')], created: '2020-05-01T00:00:00Z'}},
      ]),
    )
    const app: TestImageSpec = {layers: [await layerOf(DISTROLESS_LIKE)], user: '0', created: new Date().toISOString()}
    ociDigest = buildTestImage(app, 'oci').digest
    oci = path.join(dir, 'app-oci.tar')
    writeFileSync(oci, await ociLayoutTar([{ref: 'app:2', specs: [app]}]))
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('images the archives hold (by tag, normalised; by digest) are inspected from them; the others are named as not inspected', async () => {
    const file = path.join(dir, 'shop.yaml')
    writeFileSync(
      file,
      deployment('web', ['docker.io/library/nginx:1.25', `app@${ociDigest}`, 'quay.io/team/other:1']) +
        '---\n' +
        deployment('spare', ['nginx:1.25']),
    )
    const result = await runCli([
      'audit',
      'images',
      '-f',
      file,
      '--image-archive',
      saved,
      '--image-archive',
      oci,
      '-o',
      'json',
      '--fail-on',
      'none',
    ])
    expect(result.code, result.stderr).to.equal(0)
    const doc = JSON.parse(result.stdout) as {findings: JsonFinding[]; images: Array<Record<string, unknown>>}
    const shell = doc.findings.filter((f) => f.check === 'image-has-shell')
    // On the workloads of the manifests, under the image as each writes it.
    expect(shell.map((f) => [f.resource.name, f.image, f.message])).to.deep.equal([
      ['web', 'docker.io/library/nginx:1.25', 'image docker.io/library/nginx:1.25 has a shell: /bin/bash, /bin/sh'],
      ['spare', 'nginx:1.25', 'image nginx:1.25 has a shell: /bin/bash, /bin/sh'],
    ])
    const root = doc.findings.filter((f) => f.check === 'image-runs-as-root').map((f) => f.image)
    expect(root).to.include(`app@${ociDigest}`)
    expect(root).to.not.include('quay.io/team/other:1')
    // The spec checks run too: the manifests have pod specs.
    expect(doc.findings.map((f) => f.check)).to.include('resources-missing')
    expect(result.stderr).to.contain(
      'warning: --image-archive: no archive holds quay.io/team/other:1, so it was not inspected (add --inspect to read it from its registry)',
    )
    expect(doc.images.map((i) => i.image)).to.have.members([
      'docker.io/library/nginx:1.25',
      'nginx:1.25',
      `app@${ociDigest}`,
    ])
  })

  it('an archive image no workload runs is named; a digest the archive lacks does not match its tag', async () => {
    const file = path.join(dir, 'other.yaml')
    writeFileSync(file, deployment('web', [`nginx:1.25@sha256:${'f'.repeat(64)}`]))
    const result = await runCli(['audit', 'images', '-f', file, '--image-archive', saved, '-o', 'json'])
    expect(result.stderr).to.contain('warning: --image-archive: no workload in -f runs nginx:1.25')
    expect(result.stderr).to.contain(`no archive holds nginx:1.25@sha256:${'f'.repeat(64)}`)
  })

  describe('with --inspect: the others from their registries', () => {
    let registry: RunningRegistry
    before(async function () {
      requireRegistry(this, 'the audit-images-archive-files e2e tests')
      registry = await startRegistry()
      await pushTestImage(
        registry,
        'team/api',
        '1',
        buildTestImage({layers: [await layerOf(DEBIAN_LIKE)], created: new Date().toISOString()}),
      )
    })
    after(async () => registry?.stop())

    it('reads the archive image from the archive and the registry image from the registry', async () => {
      const file = path.join(dir, 'mixed.yaml')
      const api = `${registry.host}/team/api:1`
      writeFileSync(file, deployment('web', ['nginx:1.25', api]))
      const result = await runCli([
        'audit',
        'images',
        '-f',
        file,
        '--image-archive',
        saved,
        '--inspect',
        '--insecure-skip-tls-verify',
        '-o',
        'json',
        '--fail-on',
        'none',
      ])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stderr).to.not.contain('no archive holds')
      const doc = JSON.parse(result.stdout) as {findings: JsonFinding[]; images: Array<Record<string, unknown>>}
      expect(doc.findings.filter((f) => f.check === 'image-stale').map((f) => f.image)).to.deep.equal(['nginx:1.25'])
      expect(doc.findings.filter((f) => f.check === 'image-has-shell').map((f) => f.image)).to.deep.equal([
        'nginx:1.25',
        api,
      ])
      expect(doc.images.map((i) => i.image)).to.have.members(['nginx:1.25', api])
    })
  })
})

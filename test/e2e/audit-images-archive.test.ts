import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {runCli} from '../support/cli.js'
import {installFakeTrivy, trivyReport} from '../support/fake-trivy.js'
import {DEBIAN_LIKE, DISTROLESS_LIKE, dockerSaveTar, layerOf, ociLayoutTar} from '../support/test-images.js'

interface JsonFinding {
  check: string
  severity: string
  resource: {kind: string; name: string}
  container: string
  message: string
}

describe('audit images --image-archive (built CLI, offline)', () => {
  let dir: string
  let saved: string
  let oci: string
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-archive-e2e-'))
    saved = path.join(dir, 'nginx.tar')
    writeFileSync(
      saved,
      await dockerSaveTar([
        {tag: 'nginx:1.25', spec: {layers: [await layerOf(DEBIAN_LIKE, 'none')], created: '2020-05-01T00:00:00Z'}},
      ]),
    )
    oci = path.join(dir, 'app-oci.tar')
    writeFileSync(
      oci,
      await ociLayoutTar([
        {
          ref: 'app:2',
          specs: [{layers: [await layerOf(DISTROLESS_LIKE)], user: '65532', created: new Date().toISOString()}],
        },
      ]),
    )
  })

  it('a docker save tarball: the image checks only, with evidence, on an ImageArchive resource', async () => {
    const result = await runCli(['audit', 'images', '--image-archive', saved, '-o', 'json', '--fail-on', 'none'])
    expect(result.code, result.stderr).to.equal(0)
    const doc = JSON.parse(result.stdout) as {findings: JsonFinding[]; images: Array<Record<string, unknown>>}
    expect([...new Set(doc.findings.map((f) => f.check))]).to.deep.equal([
      'image-runs-as-root',
      'image-has-shell',
      'image-has-package-manager',
      'image-has-network-tools',
      'image-stale',
      'image-setuid-files',
    ])
    expect(
      doc.findings.every(
        (f) => f.resource.kind === 'ImageArchive' && f.resource.name === saved && f.container === 'nginx:1.25',
      ),
    ).to.equal(true)
    expect(doc.findings.find((f) => f.check === 'image-has-shell')?.message).to.equal(
      'image nginx:1.25 has a shell: /bin/bash, /bin/sh',
    )
    expect(doc.images.map((i) => [i.image, i.user, i.created, i.layers])).to.deep.equal([
      ['nginx:1.25', '', '2020-05-01T00:00:00Z', 1],
    ])
  })

  it('an OCI layout tar of a distroless-like image: nothing to report; table output', async () => {
    const result = await runCli(['audit', 'images', '--image-archive', oci])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.contain('No findings in 1 workload.')
  })

  it('--scan hands the archive to trivy as --input', async () => {
    const trivy = installFakeTrivy(path.join(dir, 'trivy'), {
      [saved]: trivyReport('nginx:1.25', [['CVE-2024-0001', 'openssl', 'CRITICAL']]),
    })
    const result = await runCli(
      ['audit', 'images', '--image-archive', saved, '--scan', '-o', 'json', '--fail-on', 'none'],
      {
        env: {PATH: `${trivy.bin}:${process.env.PATH}`},
      },
    )
    expect(result.code, result.stderr).to.equal(0)
    expect(trivy.calls()).to.have.length(1)
    expect(trivy.calls()[0].slice(-2)).to.deep.equal(['--input', saved])
    const vulnerable = (JSON.parse(result.stdout) as {findings: JsonFinding[]}).findings.filter(
      (f) => f.check === 'image-vulnerable',
    )
    expect(vulnerable.map((f) => f.severity)).to.deep.equal(['critical'])
  })

  it('refuses registry and cluster flags with an archive alone', async () => {
    for (const [args, text] of [
      [
        ['--resolve-digests'],
        'error: --resolve-digests applies only to images in registries (an --image-archive alone is read offline; with -f they apply to the images it does not hold)',
      ],
      [['-n', 'shop'], 'error: --namespace applies only to the cluster audit (without -f or --image-archive)'],
    ] as const) {
      const result = await runCli(['audit', 'images', '--image-archive', saved, ...args])
      expect(result.code, args.join(' ')).to.equal(1)
      expect(result.stderr, args.join(' ')).to.contain(text)
    }
  })

  it('a file that is not an image archive is one error line', async () => {
    const bogus = path.join(dir, 'bogus.tar')
    writeFileSync(bogus, 'not a tar'.repeat(100))
    const result = await runCli(['audit', 'images', '--image-archive', bogus])
    expect(result.code).to.equal(1)
    expect(result.stderr.trim()).to.equal(
      `error: --image-archive "${bogus}" is not a tar archive (docker save or an OCI layout)`,
    )
  })
})

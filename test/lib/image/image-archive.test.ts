import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {UserError} from '../../../src/lib/errors.js'
import {inspectArchive} from '../../../src/lib/image/image-archive.js'
import {
  DEBIAN_LIKE,
  DISTROLESS_LIKE,
  dockerSaveTar,
  layerOf,
  ociLayoutTar,
  sha256,
  tarOf,
} from '../../support/test-images.js'

describe('inspectArchive (docker save, OCI layout)', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-archive-'))
  })
  const write = (name: string, data: Buffer) => {
    const file = path.join(dir, name)
    writeFileSync(file, data)
    return file
  }

  for (const layout of ['classic', 'oci-blobs'] as const) {
    it(`reads a docker save tarball (${layout} layout): tags, user, created, files with whiteouts`, async () => {
      const base = await layerOf(DEBIAN_LIKE, 'none')
      const top = await layerOf([{name: 'usr/bin/.wh.curl'}], 'none')
      const file = write(
        `save-${layout}.tar`,
        await dockerSaveTar(
          [
            {tag: 'nginx:1.25', spec: {layers: [base, top], created: '2024-01-02T03:04:05Z'}},
            {tag: 'app:2', spec: {layers: [await layerOf(DISTROLESS_LIKE, 'none')], user: '65532'}},
          ],
          layout,
        ),
      )
      const [nginx, app] = await inspectArchive(file)
      expect(nginx).to.include({image: 'nginx:1.25', user: '', created: '2024-01-02T03:04:05Z', layers: 2})
      expect(nginx.compressedSize).to.equal(base.tar.length + top.tar.length)
      expect(nginx.shells).to.deep.equal(['/bin/bash', '/bin/sh'])
      expect(nginx.networkTools).to.deep.equal([])
      expect(nginx.digest).to.match(/^sha256:[a-f0-9]{64}$/)
      expect(app).to.include({image: 'app:2', user: '65532'})
      expect(app.shells).to.deep.equal([])
    })
  }

  it('reads an OCI layout tar, an index by platform (linux/amd64 unless told)', async () => {
    const file = write(
      'oci.tar',
      await ociLayoutTar([
        {
          ref: 'multi:1',
          specs: [
            {layers: [await layerOf(DISTROLESS_LIKE)], user: '1000', architecture: 'amd64'},
            {layers: [await layerOf(DEBIAN_LIKE)], architecture: 'arm64'},
          ],
        },
      ]),
    )
    const [amd] = await inspectArchive(file)
    expect(amd).to.include({image: 'multi:1', platform: 'linux/amd64', user: '1000'})
    const [arm] = await inspectArchive(file, [{os: 'linux', architecture: 'arm64'}])
    expect(arm).to.include({platform: 'linux/arm64', user: ''})
    expect(arm.packageManagers).to.deep.equal(['/usr/bin/apt', '/usr/bin/apt-get', '/usr/bin/dpkg'])
  })

  it('refuses what is not an image archive, naming the flag and file', async () => {
    const notTar = write('not.tar', Buffer.from('hello, this is not a tar file at all'.repeat(20)))
    const error = await inspectArchive(notTar).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(UserError)
    expect((error as Error).message).to.equal(
      `--image-archive "${notTar}" is not a tar archive (docker save or an OCI layout)`,
    )
    const empty = write('empty.tar', await tarOf([{name: 'readme.txt'}]))
    const none = await inspectArchive(empty).catch((e: unknown) => e)
    expect((none as Error).message).to.equal(
      `--image-archive "${empty}" has neither manifest.json (docker save) nor index.json (OCI layout)`,
    )
    const missing = await inspectArchive(path.join(dir, 'nope.tar')).catch((e: unknown) => e)
    expect((missing as Error).message).to.match(/^--image-archive ".*nope\.tar"/)
    expect(sha256('x')).to.match(/^sha256:/)
  })
})

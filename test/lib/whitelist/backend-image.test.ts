import {expect} from 'chai'

import {UserError} from '../../../src/lib/errors.js'
import {parseImageReference} from '../../../src/lib/image/image-reference.js'
import {
  DEFAULT_BACKEND_IMAGE,
  PINNED_DEFAULT_BACKEND_IMAGE,
  resolveBackendImage,
} from '../../../src/lib/whitelist/backend-image.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../../support/registry.js'

describe('backend image', () => {
  it('the default is pinned in the source: a Node.js 22 distroless tag with a sha256 digest', () => {
    const reference = parseImageReference(PINNED_DEFAULT_BACKEND_IMAGE)
    expect(reference.registry).to.equal('gcr.io')
    expect(reference.repository).to.equal('distroless/nodejs22-debian12')
    expect(reference.tag).to.equal('nonroot')
    expect(reference.digest).to.match(/^sha256:[a-f0-9]{64}$/)
    expect(PINNED_DEFAULT_BACKEND_IMAGE.startsWith(`${DEFAULT_BACKEND_IMAGE}@sha256:`)).to.equal(true)
  })

  it('naming the default asks no registry, in a run and in a dry run', async () => {
    // No registry is reachable from a test at gcr.io's address: a network call would fail or hang.
    expect(await resolveBackendImage(undefined, false)).to.equal(PINNED_DEFAULT_BACKEND_IMAGE)
    expect(await resolveBackendImage(undefined, true)).to.equal(PINNED_DEFAULT_BACKEND_IMAGE)
  })

  it('an image given by digest is used as given', async () => {
    const image = `registry.internal/nodejs22@sha256:${'b'.repeat(64)}`
    expect(await resolveBackendImage(image, false)).to.equal(image)
  })

  it('an image given by tag shows a placeholder in a dry run', async () => {
    expect(await resolveBackendImage('127.0.0.1:1/node:22', true)).to.equal(
      '127.0.0.1:1/node:22@sha256:<resolved at apply time>',
    )
  })

  it('an image given by tag on an unreachable registry: one line naming the flag and the air-gapped way', async () => {
    const error = await resolveBackendImage('127.0.0.1:1/node:22', false).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(error).to.be.instanceOf(UserError)
    const message = (error as Error).message
    expect(message).to.match(/^cannot resolve the digest of --backend-image 127\.0\.0\.1:1\/node:22 \(/)
    expect(message).to.contain('name the image by digest: --backend-image 127.0.0.1:1/node@sha256:…')
    expect(message).to.not.contain('ECONNREFUSED')
    expect(message).to.not.contain('\n')
  })

  it('an invalid image reference names the flag', async () => {
    const error = await resolveBackendImage('UPPER/Case:tag', false).catch((caught: unknown) => caught)
    expect((error as Error).message).to.match(/^--backend-image UPPER\/Case:tag: /)
  })

  describe('an image given by tag, against a real registry', () => {
    let registry: RunningRegistry
    before(async function () {
      requireRegistry(this, 'the backend-image tests')
      registry = await startRegistry({})
    })
    after(async () => registry?.stop())

    it('is pinned to the digest the registry gives for the tag now', async () => {
      const pushed = await registry.pushImage('distroless/nodejs22', 'nonroot')
      const given = `${registry.host}/distroless/nodejs22:nonroot`
      expect(await resolveBackendImage(given, false)).to.equal(`${given}@${pushed.digest}`)
    })
  })
})

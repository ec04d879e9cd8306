import {expect} from 'chai'
import {gzipSync} from 'node:zlib'

import {limitConcurrency} from '../../../src/lib/concurrency.js'
import {UserError} from '../../../src/lib/errors.js'
import {parseImageReference} from '../../../src/lib/image/image-reference.js'
import {registrySource} from '../../../src/lib/image/image-source.js'
import {inspectImage, memoryLayerStore} from '../../../src/lib/image/inspect-image.js'
import {request, requireRegistry, type RunningRegistry, startRegistry} from '../../support/registry.js'
import {
  buildTestImage,
  DEBIAN_LIKE,
  DISTROLESS_LIKE,
  layerOf,
  pushTestImage,
  pushTestIndex,
  sha256,
} from '../../support/test-images.js'

const USER = 'pull_user'
const PASSWORD = 'Pull-Pa55w0rd!'
const SECRET_VALUE = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'

describe('inspectImage against a real registry', function () {
  let plain: RunningRegistry
  let authed: RunningRegistry
  const source = (registry: RunningRegistry, image: string, credentials?: {username: string; password: string}) =>
    registrySource(parseImageReference(`${registry.host}/${image}`), {}, credentials)

  before(async function () {
    requireRegistry(this, 'inspectImage tests')
    ;[plain, authed] = await Promise.all([startRegistry(), startRegistry({users: {[USER]: PASSWORD}})])
  })
  after(async () => {
    await Promise.all([plain?.stop(), authed?.stop()])
  })

  it('reads a Debian-like image: shells, package managers, network tools, setuid files, root user, created', async () => {
    const image = buildTestImage({layers: [await layerOf(DEBIAN_LIKE)], created: '2025-06-01T10:00:00Z'})
    await pushTestImage(plain, 'debian-like', '1.0', image)
    const [facts] = await inspectImage(source(plain, 'debian-like:1.0'), 'debian-like:1.0')
    expect(facts.user).to.equal('')
    expect(facts.created).to.equal('2025-06-01T10:00:00Z')
    expect(facts.digest).to.equal(image.digest)
    expect(facts.shells).to.deep.equal(['/bin/bash', '/bin/sh'])
    expect(facts.packageManagers).to.deep.equal(['/usr/bin/apt', '/usr/bin/apt-get', '/usr/bin/dpkg'])
    expect(facts.networkTools).to.deep.equal(['/usr/bin/curl'])
    expect(facts.setuidFiles).to.deep.equal([{path: '/usr/bin/passwd', mode: '4755'}])
    expect(facts.layers).to.equal(1)
    expect(facts.compressedSize).to.equal(image.blobs[0].length)
    expect(facts.unreadLayers).to.deep.equal([])
  })

  it('reads the config exactly as the registry stores it (user, created)', async () => {
    const image = buildTestImage({
      layers: [await layerOf(DISTROLESS_LIKE)],
      user: '65532:65532',
      created: '2026-01-02T03:04:05Z',
    })
    await pushTestImage(plain, 'distroless-like', 'v2', image, undefined)
    const manifest = (
      await request(`${plain.url}/v2/distroless-like/manifests/v2`, {headers: {accept: image.mediaType}})
    ).json<{
      config: {digest: string}
    }>()
    const raw = (await request(`${plain.url}/v2/distroless-like/blobs/${manifest.config.digest}`)).json<{
      created: string
      config: {User: string}
    }>()
    const [facts] = await inspectImage(source(plain, 'distroless-like:v2'), 'distroless-like:v2')
    expect(facts.user).to.equal(raw.config.User).and.to.equal('65532:65532')
    expect(facts.created).to.equal(raw.created)
    expect(facts.shells).to.deep.equal([])
    expect(facts.packageManagers).to.deep.equal([])
    expect(facts.networkTools).to.deep.equal([])
    expect(facts.setuidFiles).to.deep.equal([])
  })

  it('applies whiteouts and opaque whiteouts of later layers', async () => {
    const base = await layerOf(DEBIAN_LIKE)
    const removal = await layerOf([
      {name: 'bin/.wh.sh'},
      {name: 'bin/.wh.bash'},
      {name: 'usr/bin/.wh..wh..opq'},
      {name: 'usr/bin/app', mode: 0o755},
      {name: 'usr/local/bin/busybox', mode: 0o755},
    ])
    const image = buildTestImage({layers: [base, removal]})
    await pushTestImage(plain, 'whiteout', '1', image)
    const [facts] = await inspectImage(source(plain, 'whiteout:1'), 'whiteout:1')
    expect(facts.shells).to.deep.equal(['/usr/local/bin/busybox'])
    expect(facts.packageManagers).to.deep.equal([])
    expect(facts.networkTools).to.deep.equal([])
    expect(facts.setuidFiles).to.deep.equal([])
    expect(facts.layers).to.equal(2)
    expect(facts.compressedSize).to.equal(base.blob.length + removal.blob.length)
  })

  it('picks the wanted platform of a multi-arch index (linux/amd64 by default)', async () => {
    const amd = {layers: [await layerOf(DISTROLESS_LIKE)], user: '1000', architecture: 'amd64'}
    const arm = {layers: [await layerOf(DEBIAN_LIKE)], architecture: 'arm64', variant: 'v8'}
    const {images} = await pushTestIndex(plain, 'multi', '1.0', [amd, arm])
    const [byDefault] = await inspectImage(source(plain, 'multi:1.0'), 'multi:1.0')
    expect(byDefault).to.include({platform: 'linux/amd64', user: '1000', digest: images[0].digest})
    const both = await inspectImage(source(plain, 'multi:1.0'), 'multi:1.0', {
      platforms: [
        {os: 'linux', architecture: 'arm64'},
        {os: 'linux', architecture: 'amd64'},
      ],
    })
    expect(both.map((f) => f.platform)).to.deep.equal(['linux/arm64/v8', 'linux/amd64'])
    expect(both[0].shells).to.deep.equal(['/bin/bash', '/bin/sh'])
    const error = await inspectImage(source(plain, 'multi:1.0'), 'multi:1.0', {
      platforms: [{os: 'linux', architecture: 's390x'}],
    }).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(UserError)
    expect((error as Error).message).to.equal(
      'multi:1.0: the index has no image for linux/s390x (it offers linux/amd64, linux/arm64/v8); choose one with --platform',
    )
  })

  it('reads an OCI manifest with an uncompressed layer', async () => {
    const image = buildTestImage({layers: [await layerOf(DEBIAN_LIKE, 'none')]}, 'oci')
    await pushTestImage(plain, 'oci-plain', '1', image)
    const [facts] = await inspectImage(source(plain, 'oci-plain:1'), 'oci-plain:1')
    expect(facts.shells).to.deep.equal(['/bin/bash', '/bin/sh'])
  })

  it('names the ENV credential but never its value', async () => {
    const image = buildTestImage({
      layers: [await layerOf(DISTROLESS_LIKE)],
      env: [`AWS_SECRET_ACCESS_KEY=${SECRET_VALUE}`, 'NODE_VERSION=20.1.0', 'GPG_KEY=ABCDEF'],
      labels: {'com.example.db-password': 'hunter2-canary'},
    })
    await pushTestImage(plain, 'leaky', '1', image)
    const [facts] = await inspectImage(source(plain, 'leaky:1'), 'leaky:1')
    expect(facts.secrets).to.deep.equal([
      {where: 'ENV', name: 'AWS_SECRET_ACCESS_KEY', reason: 'its name looks like a credential'},
      {where: 'LABEL', name: 'com.example.db-password', reason: 'its name looks like a credential'},
    ])
    expect(JSON.stringify(facts)).to.not.contain(SECRET_VALUE).and.not.contain('hunter2-canary')
  })

  it('says which layer it cannot read (zstd on this Node) and reads the others', async function () {
    if (typeof ((await import('node:zlib')) as {createZstdDecompress?: unknown}).createZstdDecompress === 'function')
      this.skip()
    const zstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(600)])
    const shell = await layerOf([{name: 'bin/sh', mode: 0o755}])
    const image = buildTestImage({layers: [shell, {tar: zstd, blob: zstd, compression: 'none'}]}, 'oci')
    await pushTestImage(plain, 'zstd', '1', image)
    const [facts] = await inspectImage(source(plain, 'zstd:1'), 'zstd:1')
    expect(facts.shells).to.deep.equal(['/bin/sh'])
    expect(facts.unreadLayers).to.have.length(1)
    expect(facts.unreadLayers[0]).to.match(
      /^layer sha256:[a-f0-9]{64} is zstd-compressed, which needs Node.js 22.15 or later/,
    )
  })

  it('reads each layer once per store, however many images share it', async () => {
    const base = await layerOf(DEBIAN_LIKE)
    const a = buildTestImage({layers: [base, await layerOf([{name: 'app/a'}])]})
    const b = buildTestImage({layers: [base, await layerOf([{name: 'app/b'}])]})
    await pushTestImage(plain, 'shared-a', '1', a)
    await pushTestImage(plain, 'shared-b', '1', b)
    const read: string[] = []
    const store = memoryLayerStore()
    const options = {layers: store, onLayerRead: (digest: string) => read.push(digest)}
    await Promise.all([
      inspectImage(source(plain, 'shared-a:1'), 'shared-a:1', options),
      inspectImage(source(plain, 'shared-b:1'), 'shared-b:1', options),
    ])
    expect(read.filter((d) => d === sha256(base.blob))).to.have.length(1)
    expect(read).to.have.length(3)
  })

  it('bounds the layer reads in flight with limitLayerReads', async () => {
    const layers = await Promise.all([1, 2, 3, 4].map((n) => layerOf([{name: `app/f${n}`}])))
    await pushTestImage(plain, 'many-layers', '1', buildTestImage({layers}))
    let active = 0
    let most = 0
    const limit = limitConcurrency(2)
    const counted = <T>(task: () => Promise<T>) =>
      limit(async () => {
        most = Math.max(most, ++active)
        try {
          return await task()
        } finally {
          active--
        }
      })
    const [facts] = await inspectImage(source(plain, 'many-layers:1'), 'many-layers:1', {limitLayerReads: counted})
    expect(facts.layers).to.equal(4)
    expect(most).to.equal(2)
  })

  it('reads an image behind auth with credentials, and says anonymous access was refused without', async () => {
    const image = buildTestImage({layers: [await layerOf(DISTROLESS_LIKE)], user: 'nonroot'})
    const credentials = {username: USER, password: PASSWORD}
    await pushTestImage(authed, 'private/app', '2.0', image, credentials)
    const [facts] = await inspectImage(source(authed, 'private/app:2.0', credentials), 'private/app:2.0')
    expect(facts.user).to.equal('nonroot')
    const error = await inspectImage(source(authed, 'private/app:2.0'), 'private/app:2.0').catch((e: unknown) => e)
    expect((error as Error).message).to.equal(
      `cannot read ${authed.host}/private/app: the registry refused anonymous access (HTTP 401); give credentials with --docker-config or a pull secret`,
    )
    const wrong = await inspectImage(
      source(authed, 'private/app:2.0', {username: USER, password: 'canary-wrong-pw'}),
      'x',
    ).catch((e: unknown) => e)
    expect((wrong as Error).message)
      .to.contain(`refused user "${USER}"`)
      .and.not.contain('canary-wrong-pw')
  })

  it('refuses a blob whose bytes do not match its digest', async () => {
    const good = await layerOf(DEBIAN_LIKE)
    const image = buildTestImage({layers: [good]})
    await pushTestImage(plain, 'digest-check', '1', image)
    const real = source(plain, 'digest-check:1')
    const lying = {
      ...real,
      blob: async (digest: string) => {
        const {Readable} = await import('node:stream')
        const {verifyingDigest} = await import('../../../src/lib/image/image-source.js')
        return digest === sha256(good.blob)
          ? Readable.from([gzipSync(Buffer.alloc(1024))]).pipe(verifyingDigest(digest, 'digest-check'))
          : real.blob(digest)
      },
    }
    const error = await inspectImage(lying, 'digest-check:1').catch((e: unknown) => e)
    expect((error as Error).message).to.match(/digest-check: blob sha256:[a-f0-9]{64} does not match its digest/)
  })

  it('says when the tag does not exist', async () => {
    const error = await inspectImage(source(plain, 'nothing:here'), 'nothing:here').catch((e: unknown) => e)
    expect((error as Error).message).to.equal(
      `cannot read ${plain.host}/nothing:here: the registry has no such manifest`,
    )
  })

  describe('blobs', () => {
    it('a blob read before any manifest goes through the auth flow; a missing blob names the HTTP status', async () => {
      const image = buildTestImage({layers: [await layerOf(DISTROLESS_LIKE)], user: '7'})
      const credentials = {username: USER, password: PASSWORD}
      await pushTestImage(authed, 'private/blob', '1', image, credentials)
      const config = sha256(image.config)
      const blob = await source(authed, 'private/blob:1', credentials).blob(config)
      const chunks: Buffer[] = []
      for await (const chunk of blob) chunks.push(chunk as Buffer)
      expect(Buffer.concat(chunks).equals(image.config)).to.equal(true)
      const missing = `sha256:${'0'.repeat(64)}`
      const error = await source(authed, 'private/blob:1', credentials)
        .blob(missing)
        .catch((e: unknown) => e)
      expect((error as Error).message).to.equal(
        `cannot read ${authed.host}/private/blob blob ${missing}: the registry answered HTTP 404`,
      )
      const anonymous = await source(authed, 'private/blob:1')
        .blob(config)
        .catch((e: unknown) => e)
      expect((anonymous as Error).message).to.contain('the registry refused anonymous access (HTTP 401)')
    })

    it('follows a redirect to blob storage on another host, without our Authorization header', async () => {
      const image = buildTestImage({layers: [await layerOf(DISTROLESS_LIKE)], user: '8'})
      await pushTestImage(plain, 'redirected', '1', image)
      const {createServer} = await import('node:http')
      const proxy = (url: string, accept: string, res: import('node:http').ServerResponse) =>
        void request(`${plain.url}${url}`, {headers: {accept}}).then((answer) => {
          res.writeHead(answer.status, {'content-type': String(answer.headers['content-type'] ?? '')})
          res.end(answer.body)
        })
      // Blob storage under another host name (localhost), recording what it was sent.
      const storageSaw: Array<string | undefined> = []
      const storage = createServer((req, res) => {
        storageSaw.push(req.headers.authorization)
        proxy(req.url ?? '/', '', res)
      })
      // The registry front (127.0.0.1): Basic auth, blobs redirected to the storage.
      const frontSaw: Array<string | undefined> = []
      const front = createServer((req, res) => {
        frontSaw.push(req.headers.authorization)
        if (!req.headers.authorization) {
          res.writeHead(401, {'www-authenticate': 'Basic realm="front"'})
          res.end()
        } else if (req.url?.includes('/blobs/')) {
          res.writeHead(307, {location: `http://localhost:${(storage.address() as {port: number}).port}${req.url}`})
          res.end()
        } else proxy(req.url ?? '/', String(req.headers.accept ?? ''), res)
      })
      await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve))
      await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
      try {
        const port = (front.address() as {port: number}).port
        const [facts] = await inspectImage(
          registrySource(
            parseImageReference(`127.0.0.1:${port}/redirected:1`),
            {},
            {username: 'u', password: 'canary-pw'},
          ),
          'redirected:1',
        )
        expect(facts.user).to.equal('8')
        expect(frontSaw.filter(Boolean).length).to.be.greaterThan(1)
        expect(storageSaw).to.have.length(2) // the config and the layer
        expect(storageSaw.every((header) => header === undefined)).to.equal(true)
      } finally {
        front.close()
        storage.close()
      }
    })
  })
})

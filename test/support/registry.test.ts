import {expect} from 'chai'
import {existsSync, readFileSync} from 'node:fs'

import {
  basicAuthHeader,
  MANIFEST_ACCEPT,
  MEDIA_TYPES,
  parseChallenge,
  request,
  requireRegistry,
  type RunningRegistry,
  startRegistry,
} from './registry.js'

const USERS = {alice: 'correct horse', bob: 'battery staple'}

// Wraps a test body so a failure message carries the registry's own logs.
async function withLogs(registry: RunningRegistry | undefined, body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (error) {
    if (registry && error instanceof Error) error.message += `\n--- registry logs ---\n${registry.logs().slice(-4000)}`
    throw error
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('test registry harness (real docker-registry)', function () {
  before(function () {
    requireRegistry(this, 'registry tests')
  })

  describe('plain HTTP with basic auth', function () {
    let registry: RunningRegistry

    before(async function () {
      registry = await startRegistry({users: USERS})
    })

    after(async function () {
      await registry?.stop()
    })

    it('serves http on 127.0.0.1 with a temp dir and no CA', function () {
      expect(registry.host).to.match(/^127\.0\.0\.1:\d+$/)
      expect(registry.url).to.equal(`http://${registry.host}`)
      expect(registry.caFile).to.equal(undefined)
      expect(existsSync(registry.dir)).to.equal(true)
      expect(readFileSync(`${registry.dir}/htpasswd`, 'utf8')).to.match(/^alice:\$2y\$/m)
    })

    it('answers GET /v2/ without credentials with 401 and a Basic challenge', async function () {
      const res = await request(`${registry.url}/v2/`)
      expect(res.status).to.equal(401)
      const challenge = parseChallenge(res.headers['www-authenticate'])
      expect(res.headers['www-authenticate']).to.match(/^Basic realm="/)
      expect(challenge?.scheme).to.equal('basic')
      expect(challenge?.params.realm).to.equal('imgsec-test-registry')
    })

    it('answers GET /v2/ with the right credentials with 200', async function () {
      for (const [user, password] of Object.entries(USERS)) {
        const res = await request(`${registry.url}/v2/`, {headers: {Authorization: basicAuthHeader(user, password)}})
        expect(res.status, user).to.equal(200)
        expect(res.headers['docker-distribution-api-version']).to.equal('registry/2.0')
      }
    })

    it('rejects a wrong password and an unknown user with 401', async function () {
      const wrong = await request(`${registry.url}/v2/`, {headers: {Authorization: basicAuthHeader('alice', 'nope')}})
      expect(wrong.status).to.equal(401)
      const unknown = await request(`${registry.url}/v2/`, {
        headers: {Authorization: basicAuthHeader('mallory', 'correct horse')},
      })
      expect(unknown.status).to.equal(401)
    })

    it('pushes a docker schema2 image whose manifest digest the registry reports back', async function () {
      await withLogs(registry, async () => {
        const {digest, mediaType} = await registry.pushImage('team/app', 'v1', {
          username: 'alice',
          password: USERS.alice,
        })
        expect(digest).to.match(/^sha256:[0-9a-f]{64}$/)
        expect(mediaType).to.equal(MEDIA_TYPES.dockerManifest)

        const res = await request(`${registry.url}/v2/team/app/manifests/v1`, {
          headers: {Accept: MANIFEST_ACCEPT, Authorization: basicAuthHeader('alice', USERS.alice)},
        })
        expect(res.status).to.equal(200)
        expect(res.headers['docker-content-digest']).to.equal(digest)
        expect(res.headers['content-type']).to.equal(MEDIA_TYPES.dockerManifest)
        const manifest = res.json<{
          schemaVersion: number
          config: {digest: string}
          layers: Array<{digest: string; size: number}>
        }>()
        expect(manifest.schemaVersion).to.equal(2)
        expect(manifest.layers).to.have.length(1)

        // The referenced blobs really are stored, i.e. the image is pullable.
        const layer = await request(`${registry.url}/v2/team/app/blobs/${manifest.layers[0].digest}`, {
          headers: {Authorization: basicAuthHeader('bob', USERS.bob)},
        })
        expect(layer.status).to.equal(200)
        expect(layer.body.length).to.equal(manifest.layers[0].size)
        expect(layer.body.subarray(0, 2)).to.deep.equal(Buffer.from([0x1f, 0x8b]))
      })
    })

    it('pushes an OCI image and gives different tags different digests, same tag the same digest', async function () {
      await withLogs(registry, async () => {
        const creds = {username: 'bob', password: USERS.bob}
        const a = await registry.pushImage('team/oci', 'a', creds, {format: 'oci'})
        const b = await registry.pushImage('team/oci', 'b', creds, {format: 'oci'})
        const again = await registry.pushImage('team/oci', 'a', creds, {format: 'oci'})
        expect(a.mediaType).to.equal(MEDIA_TYPES.ociManifest)
        expect(a.digest).to.not.equal(b.digest)
        expect(again.digest).to.equal(a.digest)

        const byDigest = await request(`${registry.url}/v2/team/oci/manifests/${a.digest}`, {
          method: 'HEAD',
          headers: {Accept: MANIFEST_ACCEPT, Authorization: basicAuthHeader('bob', USERS.bob)},
        })
        expect(byDigest.status).to.equal(200)
        expect(byDigest.headers['docker-content-digest']).to.equal(a.digest)
        expect(byDigest.headers['content-type']).to.equal(MEDIA_TYPES.ociManifest)
      })
    })

    it('lists pushed repositories in /v2/_catalog and tags in tags/list', async function () {
      await withLogs(registry, async () => {
        await registry.pushImage('catalog/check', 'latest', {username: 'alice', password: USERS.alice})
        const auth = {Authorization: basicAuthHeader('alice', USERS.alice)}
        const catalog = await request(`${registry.url}/v2/_catalog`, {headers: auth})
        expect(catalog.status).to.equal(200)
        expect(catalog.json<{repositories: string[]}>().repositories).to.include.members(['catalog/check', 'team/app'])
        const tags = await request(`${registry.url}/v2/catalog/check/tags/list`, {headers: auth})
        expect(tags.json<{name: string; tags: string[]}>()).to.deep.equal({name: 'catalog/check', tags: ['latest']})
      })
    })

    it('refuses to push without or with wrong credentials', async function () {
      let error: unknown
      try {
        await registry.pushImage('team/denied', 'v1')
      } catch (e) {
        error = e
      }
      expect(String(error)).to.match(/requires basic auth/)

      error = undefined
      try {
        await registry.pushImage('team/denied', 'v1', {username: 'alice', password: 'wrong'})
      } catch (e) {
        error = e
      }
      expect(String(error)).to.match(/HTTP 401/)
    })
  })

  describe('anonymous registry', function () {
    let registry: RunningRegistry

    before(async function () {
      registry = await startRegistry()
    })

    after(async function () {
      await registry?.stop()
    })

    it('answers /v2/ with 200 and accepts pushes without credentials', async function () {
      await withLogs(registry, async () => {
        expect((await request(`${registry.url}/v2/`)).status).to.equal(200)
        const {digest} = await registry.pushImage('library/hello', '1.0')
        const res = await request(`${registry.url}/v2/library/hello/manifests/1.0`, {
          method: 'HEAD',
          headers: {Accept: MANIFEST_ACCEPT},
        })
        expect(res.headers['docker-content-digest']).to.equal(digest)
      })
    })
  })

  describe('TLS with basic auth', function () {
    let registry: RunningRegistry

    before(async function () {
      registry = await startRegistry({tls: true, users: USERS})
    })

    after(async function () {
      await registry?.stop()
    })

    it('answers over https when the test CA is trusted', async function () {
      expect(registry.url).to.equal(`https://${registry.host}`)
      expect(registry.caFile).to.be.a('string')
      const ca = readFileSync(registry.caFile!, 'utf8')
      expect(ca).to.contain('BEGIN CERTIFICATE')
      const anonymous = await request(`${registry.url}/v2/`, {ca})
      expect(anonymous.status).to.equal(401)
      const authed = await request(`${registry.url}/v2/`, {
        ca,
        headers: {Authorization: basicAuthHeader('alice', USERS.alice)},
      })
      expect(authed.status).to.equal(200)
    })

    it('fails certificate verification without the CA', async function () {
      let error: (Error & {code?: string}) | undefined
      try {
        // Default trust store only (NODE_EXTRA_CA_CERTS may add system CAs, never ours).
        await request(`${registry.url}/v2/`)
      } catch (e) {
        error = e as Error & {code?: string}
      }
      expect(error, 'request without the CA should fail').to.be.instanceOf(Error)
      expect(error?.code).to.be.oneOf([
        'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        'SELF_SIGNED_CERT_IN_CHAIN',
        'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      ])
    })

    it('pushes over https and serves the manifest', async function () {
      await withLogs(registry, async () => {
        const {digest} = await registry.pushImage('secure/app', 'v2', {username: 'alice', password: USERS.alice})
        const res = await request(`${registry.url}/v2/secure/app/manifests/v2`, {
          ca: registry.caPem,
          headers: {Accept: MANIFEST_ACCEPT, Authorization: basicAuthHeader('alice', USERS.alice)},
        })
        expect(res.status).to.equal(200)
        expect(res.headers['docker-content-digest']).to.equal(digest)
      })
    })
  })

  describe('token auth', function () {
    let registry: RunningRegistry

    async function getToken(
      user: string,
      password: string,
      scopes: string[] = [],
    ): Promise<{status: number; token?: string}> {
      const url = new URL(registry.tokenRealm!)
      url.searchParams.set('service', registry.tokenService!)
      for (const s of scopes) url.searchParams.append('scope', s)
      const res = await request(url.toString(), {
        ca: registry.caPem,
        headers: {Authorization: basicAuthHeader(user, password)},
      })
      const body = res.status === 200 ? res.json<{token?: string; access_token?: string}>() : {}
      if (res.status === 200) expect(body.access_token).to.equal(body.token)
      return {status: res.status, token: body.token}
    }

    before(async function () {
      registry = await startRegistry({auth: 'token', users: USERS})
    })

    after(async function () {
      await registry?.stop()
    })

    it('challenges /v2/ with Bearer pointing at the token realm', async function () {
      const res = await request(`${registry.url}/v2/`)
      expect(res.status).to.equal(401)
      expect(res.headers['www-authenticate']).to.match(/^Bearer /)
      const challenge = parseChallenge(res.headers['www-authenticate'])
      expect(challenge?.scheme).to.equal('bearer')
      expect(challenge?.params.realm).to.equal(registry.tokenRealm)
      expect(challenge?.params.service).to.equal(registry.tokenService)
    })

    it('accepts a token from the realm on /v2/', async function () {
      await withLogs(registry, async () => {
        const {status, token} = await getToken('alice', USERS.alice)
        expect(status).to.equal(200)
        expect(token).to.match(/^[\w-]+\.[\w-]+\.[\w-]+$/)
        const header = JSON.parse(Buffer.from(token!.split('.')[0], 'base64url').toString()) as {
          alg: string
          x5c: string[]
        }
        expect(header.alg).to.equal('RS256')
        expect(header.x5c).to.have.length(1)
        const res = await request(`${registry.url}/v2/`, {headers: {Authorization: `Bearer ${token}`}})
        expect(res.status).to.equal(200)
      })
    })

    it('gives no token for a wrong password, and the registry rejects a forged one', async function () {
      const bad = await getToken('alice', 'wrong')
      expect(bad.status).to.equal(401)
      expect(bad.token).to.equal(undefined)

      const {token} = await getToken('bob', USERS.bob)
      const [h, p] = token!.split('.')
      const forged = `${h}.${p}.${Buffer.from('not a signature').toString('base64url')}`
      const res = await request(`${registry.url}/v2/`, {headers: {Authorization: `Bearer ${forged}`}})
      expect(res.status).to.equal(401)
    })

    it('pushes through the Bearer flow and reads back with a scoped token', async function () {
      await withLogs(registry, async () => {
        const {digest} = await registry.pushImage('tok/app', 'v1', {username: 'bob', password: USERS.bob})
        const {token} = await getToken('bob', USERS.bob, ['repository:tok/app:pull'])
        const res = await request(`${registry.url}/v2/tok/app/manifests/v1`, {
          headers: {Accept: MANIFEST_ACCEPT, Authorization: `Bearer ${token}`},
        })
        expect(res.status).to.equal(200)
        expect(res.headers['docker-content-digest']).to.equal(digest)

        // Scopes are enforced: a token without registry:catalog:* may not list.
        const denied = await request(`${registry.url}/v2/_catalog`, {headers: {Authorization: `Bearer ${token}`}})
        expect(denied.status).to.equal(401)
        const {token: catalogToken} = await getToken('bob', USERS.bob, ['registry:catalog:*'])
        const catalog = await request(`${registry.url}/v2/_catalog`, {
          headers: {Authorization: `Bearer ${catalogToken}`},
        })
        expect(catalog.status).to.equal(200)
        expect(catalog.json<{repositories: string[]}>().repositories).to.include('tok/app')
      })
    })
  })

  describe('token auth over TLS', function () {
    let registry: RunningRegistry

    before(async function () {
      registry = await startRegistry({auth: 'token', tls: true, users: USERS})
    })

    after(async function () {
      await registry?.stop()
    })

    it('serves the realm over https with the same CA and pushes', async function () {
      await withLogs(registry, async () => {
        expect(registry.tokenRealm).to.match(/^https:\/\/127\.0\.0\.1:\d+\/token$/)
        const {digest} = await registry.pushImage('tls/tok', 'v1', {username: 'alice', password: USERS.alice})
        expect(digest).to.match(/^sha256:/)
      })
    })
  })

  describe('lifecycle', function () {
    it('stop() kills the process, removes the temp dir and is idempotent', async function () {
      const registry = await startRegistry({users: USERS})
      const pid = registry.pid!
      expect(isAlive(pid)).to.equal(true)
      expect(existsSync(registry.dir)).to.equal(true)
      await Promise.all([registry.stop(), registry.stop()])
      expect(isAlive(pid)).to.equal(false)
      expect(existsSync(registry.dir)).to.equal(false)
      let error: unknown
      try {
        await request(`${registry.url}/v2/`, {timeoutMs: 2000})
      } catch (e) {
        error = e
      }
      expect((error as NodeJS.ErrnoException | undefined)?.code).to.equal('ECONNREFUSED')
      await registry.stop()
    })

    it('runs several registries side by side on different ports', async function () {
      const [a, b] = await Promise.all([startRegistry(), startRegistry({users: USERS})])
      try {
        expect(a.host).to.not.equal(b.host)
        expect((await request(`${a.url}/v2/`)).status).to.equal(200)
        expect((await request(`${b.url}/v2/`)).status).to.equal(401)
      } finally {
        await Promise.all([a.stop(), b.stop()])
      }
    })
  })
})

import {expect} from 'chai'

import {UserError} from '../../../src/lib/errors.js'
import {
  parseAuthenticateHeader,
  registryEndpoint,
  resolveTagDigest,
  verifyRegistryLogin,
} from '../../../src/lib/image/registry-client.js'
import {freePort, requireRegistry, type RunningRegistry, startRegistry} from '../../support/registry.js'

const USER = 'dock_user'
const PASSWORD = 'Reg1stry-Pa55w0rd!'

describe('registry-client', () => {
  describe('registryEndpoint', () => {
    const cases: Array<[string, string]> = [
      ['https://index.docker.io/v1/', 'https://registry-1.docker.io/v2/'],
      ['docker.io', 'https://registry-1.docker.io/v2/'],
      ['myprivateregistry.com:5000', 'https://myprivateregistry.com:5000/v2/'],
      ['http://127.0.0.1:5000', 'http://127.0.0.1:5000/v2/'],
      ['https://reg.example.com/some/path', 'https://reg.example.com/v2/'],
      ['[::1]:5000', 'https://[::1]:5000/v2/'],
    ]
    for (const [server, endpoint] of cases) {
      it(`${server} → ${endpoint}`, () => expect(registryEndpoint(server).href).to.equal(endpoint))
    }
    it('rejects a non-http scheme', () => {
      expect(() => registryEndpoint('ftp://x')).to.throw(UserError, /only http and https/)
    })
  })

  describe('parseAuthenticateHeader', () => {
    it('parses a Bearer challenge with quoted params', () => {
      expect(
        parseAuthenticateHeader(
          'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
        ),
      ).to.deep.equal({
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/nginx:pull',
        },
      })
    })
    it('parses a Basic challenge', () => {
      expect(parseAuthenticateHeader('Basic realm="Registry Realm"')).to.deep.equal({
        scheme: 'basic',
        params: {realm: 'Registry Realm'},
      })
    })
  })

  describe('verifyRegistryLogin against a real registry', function () {
    let plain: RunningRegistry
    let tls: RunningRegistry
    let token: RunningRegistry
    before(async function () {
      requireRegistry(this, 'registry-client tests')
      ;[plain, tls, token] = await Promise.all([
        startRegistry({users: {[USER]: PASSWORD}}),
        startRegistry({users: {[USER]: PASSWORD}, tls: true}),
        startRegistry({users: {[USER]: PASSWORD}, auth: 'token'}),
      ])
    })
    after(async () => {
      await Promise.all([plain?.stop(), tls?.stop(), token?.stop()])
    })

    it('accepts the right password (Basic)', async () => {
      const result = await verifyRegistryLogin({server: plain.url, username: USER, password: PASSWORD})
      expect(result).to.deep.equal({endpoint: `${plain.url}/v2/`, method: 'basic'})
    })

    it('falls back to plain HTTP for a loopback registry given without a scheme, as docker does', async () => {
      const result = await verifyRegistryLogin({server: plain.host, username: USER, password: PASSWORD})
      expect(result.endpoint).to.equal(`http://${plain.host}/v2/`)
    })

    it('refuses a wrong password with a clear message that does not contain it', async () => {
      const error = await verifyRegistryLogin({server: plain.url, username: USER, password: 'wrong-password-123'}).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).to.be.instanceOf(UserError)
      expect((error as Error).message).to.match(/rejected username "dock_user" and the password \(HTTP 401/)
      expect((error as Error).message).to.not.contain('wrong-password-123')
    })

    it('verifies a TLS registry with --ca-file', async () => {
      const result = await verifyRegistryLogin({
        server: tls.host,
        username: USER,
        password: PASSWORD,
        caFile: tls.caFile,
      })
      expect(result).to.deep.equal({endpoint: `${tls.url}/v2/`, method: 'basic'})
    })

    it('says to pass --ca-file when the TLS registry is signed by an unknown CA', async () => {
      const error = await verifyRegistryLogin({server: tls.host, username: USER, password: PASSWORD}).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((error as Error).message).to.match(
        /TLS verification of the registry at https:\/\/127\.0\.0\.1:\d+ failed .*--ca-file/,
      )
    })

    it('--insecure-skip-tls-verify skips the certificate check', async () => {
      const result = await verifyRegistryLogin({
        server: tls.host,
        username: USER,
        password: PASSWORD,
        insecureSkipTlsVerify: true,
      })
      expect(result.method).to.equal('basic')
    })

    it('follows the Bearer token flow', async () => {
      const result = await verifyRegistryLogin({server: token.url, username: USER, password: PASSWORD})
      expect(result.method).to.equal('bearer')
      const error = await verifyRegistryLogin({server: token.url, username: USER, password: 'nope-nope-nope'}).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((error as Error).message).to.match(/rejected username "dock_user"/)
    })

    it('says when the registry is unreachable', async () => {
      const port = await freePort()
      const error = await verifyRegistryLogin({
        server: `http://127.0.0.1:${port}`,
        username: USER,
        password: PASSWORD,
      }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((error as Error).message).to.equal(
        `cannot connect to the registry at http://127.0.0.1:${port}: connection refused; check --docker-server, or skip the check with --no-verify`,
      )
    })
  })

  describe('resolveTagDigest against a real registry', () => {
    let basic: RunningRegistry
    let token: RunningRegistry
    let anonymous: RunningRegistry
    before(async function () {
      requireRegistry(this, 'resolveTagDigest tests')
      ;[basic, token, anonymous] = await Promise.all([
        startRegistry({users: {[USER]: PASSWORD}, tls: true}),
        startRegistry({users: {[USER]: PASSWORD}, auth: 'token'}),
        startRegistry({}),
      ])
    })
    after(async () => {
      await Promise.all([basic?.stop(), token?.stop(), anonymous?.stop()])
    })
    const credentials = {username: USER, password: PASSWORD}

    it('returns the digest of a pushed docker manifest (Basic auth, TLS)', async () => {
      const pushed = await basic.pushImage('team/app', '1.0', credentials)
      const digest = await resolveTagDigest(
        {registry: basic.host, repository: 'team/app', tag: '1.0'},
        {caFile: basic.caFile},
        credentials,
      )
      expect(digest).to.equal(pushed.digest)
    })

    it('returns the digest of an OCI manifest through the Bearer flow, and follows a moved tag', async () => {
      const first = await token.pushImage('app', 'stable', credentials, {format: 'oci'})
      expect(await resolveTagDigest({registry: token.url, repository: 'app', tag: 'stable'}, {}, credentials)).to.equal(
        first.digest,
      )
      const moved = await token.pushImage('app', 'v2', credentials, {format: 'oci'})
      expect(moved.digest).to.not.equal(first.digest)
      expect(await resolveTagDigest({registry: token.url, repository: 'app', tag: 'v2'}, {}, credentials)).to.equal(
        moved.digest,
      )
    })

    it('works anonymously on an open registry', async () => {
      const pushed = await anonymous.pushImage('library/nginx', '1.27')
      expect(await resolveTagDigest({registry: anonymous.url, repository: 'library/nginx', tag: '1.27'}, {})).to.equal(
        pushed.digest,
      )
    })

    it('a missing tag and refused credentials are clear errors', async () => {
      const missing = await resolveTagDigest(
        {registry: anonymous.host, repository: 'library/nginx', tag: 'nope'},
        {},
      ).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((missing as Error).message).to.match(
        /cannot resolve 127\.0\.0\.1:\d+\/library\/nginx:nope: the registry has no such tag/,
      )
      const refused = await resolveTagDigest(
        {registry: basic.host, repository: 'team/app', tag: '1.0'},
        {caFile: basic.caFile},
      ).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((refused as Error).message).to.match(
        /refused anonymous access \(HTTP 401\); give credentials with --docker-config/,
      )
    })
  })
})

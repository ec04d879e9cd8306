import {expect} from 'chai'

import {
  credentialsOf,
  decodeDockerAuth,
  DEFAULT_DOCKER_SERVER,
  goJsonEncode,
  parseDockerConfigJson,
  pullSecretServers,
  renderDockerConfigJson,
  secretHashSuffix,
} from '../../../src/lib/image/docker-config.js'
import {UserError} from '../../../src/lib/errors.js'

describe('docker-config', () => {
  describe('goJsonEncode', () => {
    const cases: Array<[unknown, string]> = [
      [{a: '<b>'}, String.raw`{"a":"\u003cb\u003e"}`],
      [{a: 'x&y'}, String.raw`{"a":"x\u0026y"}`],
      [{a: 'ü€'}, '{"a":"ü€"}'],
      [{a: 'line\u2028sep\u2029'}, String.raw`{"a":"line\u2028sep\u2029"}`],
      [{a: 'tab\there "q" \\'}, String.raw`{"a":"tab\there \"q\" \\"}`],
    ]
    for (const [input, expected] of cases) {
      it(`encodes ${JSON.stringify(input)} like Go`, () => expect(goJsonEncode(input)).to.equal(expected))
    }
  })

  describe('renderDockerConfigJson', () => {
    it('orders fields username, password, email, auth and base64-encodes user:pass', () => {
      const json = renderDockerConfigJson({server: 'reg:5000', username: 'u', password: 'p', email: 'e@x'})
      expect(json).to.equal('{"auths":{"reg:5000":{"username":"u","password":"p","email":"e@x","auth":"dTpw"}}}')
    })
    it('omits an empty email (omitempty)', () => {
      const json = renderDockerConfigJson({server: DEFAULT_DOCKER_SERVER, username: 'u', password: 'p'})
      expect(JSON.parse(json).auths[DEFAULT_DOCKER_SERVER]).to.deep.equal({username: 'u', password: 'p', auth: 'dTpw'})
    })
  })

  describe('parseDockerConfigJson / credentialsOf', () => {
    it('reads auth and separate username/password entries', () => {
      const doc = parseDockerConfigJson(
        JSON.stringify({
          auths: {
            'a.example.com': {auth: Buffer.from('alice:pa:ss').toString('base64')},
            'b.example.com': {username: 'bob', password: 'pw'},
            'c.example.com': {},
          },
        }),
        'f',
      )
      expect(credentialsOf(doc, 'f')).to.deep.equal([
        {server: 'a.example.com', username: 'alice', password: 'pa:ss', email: undefined},
        {server: 'b.example.com', username: 'bob', password: 'pw', email: undefined},
      ])
    })
    const bad: Array<[string, RegExp]> = [
      ['not json', /is not valid JSON/],
      ['[]', /expected a JSON object/],
      ['{}', /has no "auths" object/],
      ['{"auths": {"x": 1}}', /auths\["x"\] must be an object/],
    ]
    for (const [text, message] of bad) {
      it(`rejects ${text} with a message naming the source`, () => {
        expect(() => parseDockerConfigJson(text, 'cfg.json'))
          .to.throw(UserError, message)
          .with.property('message')
          .that.contains('cfg.json')
      })
    }
    it('says when docker keeps the credentials in a credential store', () => {
      const doc = parseDockerConfigJson('{"auths": {"x.io": {}}, "credsStore": "desktop"}', 'cfg.json')
      expect(() => credentialsOf(doc, 'cfg.json')).to.throw(UserError, /"desktop" credential store/)
    })
  })

  describe('decodeDockerAuth: as docker and the kubelet decode auth (issue 11)', () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64')
    const cases: Array<[string, string, {username: string; password: string} | undefined]> = [
      ['padded base64', b64('alice:secret1'), {username: 'alice', password: 'secret1'}],
      ['a colon inside the password', b64('alice:pa:ss'), {username: 'alice', password: 'pa:ss'}],
      ['a trailing NUL in the password is trimmed', b64('alice:secret\0'), {username: 'alice', password: 'secret'}],
      ['NULs at both ends are trimmed', b64('alice:\0\0secret\0'), {username: 'alice', password: 'secret'}],
      ['unpadded base64 is refused', b64('alice:secret1').replace(/=+$/, ''), undefined],
      ['URL-safe alphabet is refused', b64('a?>:b?>').replaceAll('+', '-').replaceAll('/', '_'), undefined],
      ['spaces are refused', ` ${b64('alice:secret')}`, undefined],
      ['no colon is refused', b64('alicesecret'), undefined],
      ['not base64 at all', 'alice:secret', undefined],
    ]
    for (const [name, auth, expected] of cases) {
      it(name, () => {
        expect(decodeDockerAuth(auth)).to.deep.equal(expected)
      })
    }
    it('credentialsOf refuses an unpadded auth, naming the entry', () => {
      const doc = parseDockerConfigJson(JSON.stringify({auths: {'x.io': {auth: 'YWxpY2U6c2VjcmV0MQ'}}}), 'cfg.json')
      expect(() => credentialsOf(doc, 'cfg.json')).to.throw(
        UserError,
        'cfg.json: auths["x.io"].auth is not base64 of "username:password" (docker reads standard base64 with its = padding)',
      )
    })
  })

  describe('pullSecretServers', () => {
    const config = (auth: string) => JSON.stringify({auths: {'reg.example.com': {auth}}})
    const good = Buffer.from('u:p').toString('base64')
    const cases: Array<
      [string, {type?: string; data?: Record<string, string>; stringData?: Record<string, string>}, string[]]
    > = [
      [
        'data (base64), as the API returns it',
        {
          type: 'kubernetes.io/dockerconfigjson',
          data: {'.dockerconfigjson': Buffer.from(config(good)).toString('base64')},
        },
        ['reg.example.com'],
      ],
      [
        'stringData (plain), as written in a manifest',
        {type: 'kubernetes.io/dockerconfigjson', stringData: {'.dockerconfigjson': config(good)}},
        ['reg.example.com'],
      ],
      [
        'stringData wins over data',
        {
          type: 'kubernetes.io/dockerconfigjson',
          data: {'.dockerconfigjson': Buffer.from('{}').toString('base64')},
          stringData: {'.dockerconfigjson': config(good)},
        },
        ['reg.example.com'],
      ],
      [
        'an auth docker cannot decode makes the kubelet ignore the secret',
        {type: 'kubernetes.io/dockerconfigjson', stringData: {'.dockerconfigjson': config('dTpw====')}},
        [],
      ],
      ['another type holds no registries', {type: 'Opaque', stringData: {'.dockerconfigjson': config(good)}}, []],
    ]
    for (const [name, secret, servers] of cases) {
      it(name, () => {
        expect(pullSecretServers(secret)).to.deep.equal(servers)
      })
    }
  })

  describe('secretHashSuffix', () => {
    it('never contains the remapped digits/letters and is 10 characters', () => {
      const suffix = secretHashSuffix({name: 'x', type: 'Opaque', data: {a: 'YQ=='}})
      expect(suffix).to.match(/^[^013ae]{10}$/)
    })
    it('changes with the content and not with key order', () => {
      const a = secretHashSuffix({name: 'x', type: 'Opaque', data: {a: 'YQ==', b: 'Yg=='}})
      const b = secretHashSuffix({name: 'x', type: 'Opaque', data: {b: 'Yg==', a: 'YQ=='}})
      const c = secretHashSuffix({name: 'x', type: 'Opaque', data: {a: 'Yg=='}})
      expect(a).to.equal(b)
      expect(a).to.not.equal(c)
    })
  })
})

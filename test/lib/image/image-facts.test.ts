import {expect} from 'chai'

import {UserError} from '../../../src/lib/errors.js'
import {isRootUser, mergeLayers, secretsInConfig} from '../../../src/lib/image/image-facts.js'
import {formatPlatform, parseManifest, parsePlatform, selectPlatforms} from '../../../src/lib/image/image-manifest.js'
import {normalizeTarPath} from '../../../src/lib/image/layer-entries.js'

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`

describe('image facts', () => {
  it('isRootUser: empty, 0, root (with a group) are root; others are not', () => {
    for (const user of ['', '0', 'root', '0:0', 'root:root', ' 0 ']) expect(isRootUser(user), user).to.equal(true)
    for (const user of ['1000', 'nonroot', '65532:65532', '10:0']) expect(isRootUser(user), user).to.equal(false)
  })

  it('mergeLayers: a whiteout removes a file or a tree; an opaque directory hides the lower layers only', () => {
    const files = mergeLayers([
      {
        files: ['bin/sh', 'etc/a/x', 'etc/a/y', 'opt/z', 'usr/bin/su'],
        special: {'usr/bin/su': 0o104755},
        whiteouts: [],
        opaque: [],
      },
      {files: ['opt/new'], special: {}, whiteouts: ['bin/sh', 'etc/a'], opaque: ['opt']},
      {files: ['usr/bin/su'], special: {}, whiteouts: [], opaque: []},
    ])
    expect([...files.keys()].sort()).to.deep.equal(['opt/new', 'usr/bin/su'])
    expect(files.get('usr/bin/su')).to.equal(undefined)
  })

  it('normalizeTarPath', () => {
    expect(normalizeTarPath('./usr/bin/')).to.equal('usr/bin')
    expect(normalizeTarPath('/bin/sh')).to.equal('bin/sh')
    expect(normalizeTarPath('a/./b')).to.equal('a/b')
  })

  it('secretsInConfig: credential names with values, secret-looking values, never the accepted names', () => {
    const found = secretsInConfig({
      config: {
        Env: [
          'DB_PASSWORD=x',
          'API_TOKEN=y',
          'EMPTY_SECRET=',
          'GPG_KEY=0xABC',
          'KEYBOARD=us',
          'PASSWORD_FILE=/run/secrets/pw',
          'NOTHING',
          'URL=https://user:pa55@db.example.com/x',
          'ID=AKIAIOSFODNN7EXAMPLE',
        ],
        Labels: {maintainer: 'me', 'vendor.auth-token': 'abc'},
      },
    })
    expect(found).to.deep.equal([
      {where: 'ENV', name: 'DB_PASSWORD', reason: 'its name looks like a credential'},
      {where: 'ENV', name: 'API_TOKEN', reason: 'its name looks like a credential'},
      {where: 'ENV', name: 'URL', reason: 'the value is a URL with a password in it'},
      {where: 'ENV', name: 'ID', reason: 'the value looks like an AWS access key ID'},
      {where: 'LABEL', name: 'vendor.auth-token', reason: 'its name looks like a credential'},
    ])
  })
})

describe('image manifests', () => {
  it('parses docker and OCI manifests and indexes', () => {
    const manifest = parseManifest(
      JSON.stringify({schemaVersion: 2, config: {digest: D(1), size: 2}, layers: [{digest: D(2), size: 10}]}),
      'x',
    )
    expect(manifest).to.deep.equal({
      kind: 'manifest',
      config: {mediaType: '', digest: D(1), size: 2},
      layers: [{mediaType: '', digest: D(2), size: 10}],
    })
    const index = parseManifest(
      JSON.stringify({manifests: [{digest: D(3), size: 1, platform: {os: 'linux', architecture: 'arm64'}}]}),
      'x',
    )
    expect(index.kind).to.equal('index')
  })

  it('refuses what it cannot read, naming the image', () => {
    expect(() => parseManifest('{', 'app:1')).to.throw(UserError, 'app:1: the manifest is not JSON')
    expect(() => parseManifest('{"schemaVersion":1}', 'app:1')).to.throw(
      UserError,
      /schema 1 manifests are not supported/,
    )
    expect(() => parseManifest('{"schemaVersion":2}', 'app:1')).to.throw(UserError, /has no config or layers/)
    expect(() => parseManifest('{"config":{"digest":"md5:1"},"layers":[]}', 'app:1')).to.throw(
      UserError,
      'app:1: a descriptor has no sha256 digest',
    )
  })

  it('parsePlatform and formatPlatform', () => {
    expect(parsePlatform('linux/arm64/v8')).to.deep.equal({os: 'linux', architecture: 'arm64', variant: 'v8'})
    expect(formatPlatform(parsePlatform('linux/amd64'))).to.equal('linux/amd64')
    for (const bad of ['linux', 'linux/', 'a/b/c/d', 'linux/arm/'])
      expect(() => parsePlatform(bad), bad).to.throw(UserError, `--platform "${bad}": expected OS/ARCH`)
  })

  it('selectPlatforms: arm64 means v8; a missing platform is listed', () => {
    const index = {
      kind: 'index' as const,
      manifests: [
        {mediaType: '', digest: D(1), size: 1, platform: {os: 'linux', architecture: 'arm64', variant: 'v8'}},
        {mediaType: '', digest: D(2), size: 1, platform: {os: 'unknown', architecture: 'unknown'}},
      ],
    }
    const {chosen, missing} = selectPlatforms(index, [parsePlatform('linux/arm64'), parsePlatform('linux/amd64')])
    expect(chosen.map((c) => c.manifest.digest)).to.deep.equal([D(1)])
    expect(missing).to.deep.equal([{os: 'linux', architecture: 'amd64'}])
  })
})

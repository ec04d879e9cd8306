import {expect} from 'chai'
import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {stringify} from 'yaml'

import {createApiReader} from '../../../src/lib/cluster/api-reader.js'
import {loadKubeconfig} from '../../../src/lib/cluster/kubeconfig.js'
import {UserError} from '../../../src/lib/errors.js'

const CANARY = 'canary-token-3f9a1c'

describe('api-reader: the lean read-only client', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'imgsec-reader-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  function reader(user: Record<string, unknown>, cluster: Record<string, unknown> = {}, options: {as?: string} = {}) {
    const file = path.join(dir, 'kubeconfig')
    writeFileSync(
      file,
      stringify({
        clusters: [{name: 'c', cluster: {server: 'https://127.0.0.1:6443', ...cluster}}],
        users: [{name: 'u', user}],
        contexts: [{name: 'ctx', context: {cluster: 'c', user: 'u'}}],
        'current-context': 'ctx',
      }),
    )
    const target = {kubeconfig: file, requestTimeout: '7s', ...options}
    return createApiReader(target, loadKubeconfig(target))
  }

  function plugin(script: string): string {
    const file = path.join(dir, 'plugin.sh')
    writeFileSync(file, `#!/bin/sh\n${script}\n`)
    chmodSync(file, 0o755)
    return file
  }

  it('TLS from the cluster, client certificate and key from files or data, --as as Impersonate-User', async () => {
    writeFileSync(path.join(dir, 'ca.crt'), 'CA-PEM')
    writeFileSync(path.join(dir, 'client.crt'), 'CERT-PEM')
    const api = reader(
      {'client-certificate': 'client.crt', 'client-key-data': Buffer.from('KEY-PEM').toString('base64')},
      {'certificate-authority': 'ca.crt', 'tls-server-name': 'kubernetes', 'insecure-skip-tls-verify': true},
      {as: 'jane'},
    )!
    expect(api.requestTimeoutMs).to.equal(7000)
    const options = await api.requestOptions()
    expect(String(options.ca)).to.equal('CA-PEM')
    expect(String(options.cert)).to.equal('CERT-PEM')
    expect(String(options.key)).to.equal('KEY-PEM')
    expect(options.servername).to.equal('kubernetes')
    expect(options.rejectUnauthorized).to.equal(false)
    expect(options.headers).to.deep.equal({'Impersonate-User': 'jane'})
  })

  it('a token, a token file (kubectl tokenFile), basic auth', async () => {
    expect((await reader({token: 'abc'})!.requestOptions()).headers).to.deep.equal({Authorization: 'Bearer abc'})
    writeFileSync(path.join(dir, 'token'), 'from-file')
    expect((await reader({tokenFile: 'token'})!.requestOptions()).headers).to.deep.equal({
      Authorization: 'Bearer from-file',
    })
    const basic = await reader({username: 'admin', password: 'pw'})!.requestOptions()
    expect(basic.auth).to.equal('admin:pw')
  })

  it('runs an exec plugin once per process (no expiry), with its env and args, and uses its token or certificate', async () => {
    const count = path.join(dir, 'count')
    const command = plugin(
      `echo x >> ${count}; echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"'"$TOKEN_PREFIX$1"'","clientCertificateData":"C","clientKeyData":"K"}}'`,
    )
    const api = reader({
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command,
        args: ['-suffix'],
        env: [{name: 'TOKEN_PREFIX', value: 'tok'}],
      },
    })!
    const first = await api.requestOptions()
    await api.requestOptions()
    expect(first.headers).to.deep.equal({Authorization: 'Bearer tok-suffix'})
    expect(first.cert).to.equal('C')
    expect(first.key).to.equal('K')
    expect(readFileSync(count, 'utf8').trim().split('\n')).to.have.length(1)
  })

  it('runs the plugin again once its credential has expired', async () => {
    const count = path.join(dir, 'count')
    const command = plugin(
      `echo x >> ${count}; echo '{"status":{"token":"t","expirationTimestamp":"2000-01-01T00:00:00Z"}}'`,
    )
    const api = reader({exec: {command}})!
    await api.requestOptions()
    await api.requestOptions()
    expect(readFileSync(count, 'utf8').trim().split('\n')).to.have.length(2)
  })

  const failures: Array<[string, () => Record<string, unknown>, RegExp]> = [
    [
      'a plugin that is not installed',
      () => ({exec: {command: path.join(dir, 'no-such-plugin')}}),
      /credential plugin ".*no-such-plugin" of user "u" of context "ctx" cannot be run: .*is it installed and on PATH/,
    ],
    [
      'a plugin that fails',
      () => ({exec: {command: plugin(`echo "${CANARY}" >&2; exit 3`)}}),
      /credential plugin ".*" of user "u" of context "ctx" failed \(it exited with an error\); run it by hand/,
    ],
    [
      'a plugin that prints no JSON',
      () => ({exec: {command: plugin(`echo "{${CANARY}"`)}}),
      /printed something that is not an ExecCredential in JSON/,
    ],
    [
      'a plugin without status',
      () => ({exec: {command: plugin(`echo '{"token":"${CANARY}"}'`)}}),
      /gave no usable credential/,
    ],
    [
      'a client key file that cannot be read',
      () => ({'client-key': path.join(dir, 'missing.key')}),
      /missing\.key, named in the kubeconfig for user "u" of context "ctx" or its cluster, cannot be read/,
    ],
  ]
  for (const [title, user, expected] of failures) {
    it(`${title}: one line naming the user, never what it printed`, async () => {
      const error = await reader(user())!
        .requestOptions()
        .then(
          () => undefined,
          (error_: unknown) => error_,
        )
      expect(error).to.be.instanceOf(UserError)
      expect((error as Error).message).to.match(expected)
      expect((error as Error).message).not.to.include(CANARY)
    })
  }

  it('leaves a legacy auth-provider to the full client (undefined); an exec auth-provider it runs itself', () => {
    expect(reader({'auth-provider': {name: 'oidc', config: {'id-token': 'x'}}})).to.equal(undefined)
    expect(reader({'auth-provider': {name: 'exec', config: {exec: {command: 'x'}}}})).not.to.equal(undefined)
  })

  it('call() names the verb and resource of a failed request', async () => {
    const api = reader({})!
    const error = await api
      .call({verb: 'list', resource: 'pods'}, () => Promise.reject(Object.assign(new Error('x'), {code: 403})))
      .then(
        () => undefined,
        (error_: unknown) => error_,
      )
    expect((error as Error).message).to.match(/pods/)
  })
})

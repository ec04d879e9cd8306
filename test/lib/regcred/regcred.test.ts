import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {UserError} from '../../../src/lib/errors.js'
import {
  buildRegcredSecret,
  clientDryRun,
  describeNamespaceResult,
  regcredPayload,
  type RegcredOptions,
  validateRegcredOptions,
} from '../../../src/lib/regcred/regcred.js'

const options = (overrides: Partial<RegcredOptions> = {}): RegcredOptions => ({
  name: 'regcred',
  server: 'registry.example.com',
  username: 'ci',
  password: 'canary-Pa55word',
  namespaces: ['team-a'],
  namespaceExplicit: false,
  verify: false,
  overwrite: false,
  appendHash: false,
  dryRun: 'none',
  ...overrides,
})

describe('create-regcred planning (lib/regcred)', () => {
  describe('validateRegcredOptions', () => {
    const refused: Array<[string, Partial<RegcredOptions>, string]> = [
      ['a secret name that is not a DNS subdomain', {name: 'Reg_Cred'}, 'invalid secret name "Reg_Cred"'],
      [
        '--from-docker-config with --docker-username',
        {dockerConfigFile: 'x.json'},
        '--from-docker-config and --docker-username cannot be used together',
      ],
      ['no username', {username: undefined}, '--docker-username is required'],
      ['an empty password', {password: ''}, 'a password is required'],
      ['an empty server', {server: ' '}, '--docker-server must not be empty'],
      ['a bad namespace', {namespaces: ['Team_A']}, 'invalid namespace "Team_A"'],
      ['no namespace', {namespaces: []}, '--namespaces needs at least one namespace'],
      ['a bad service account', {attachTo: ['Build_er']}, 'invalid service account name "Build_er" in --attach-to-sa'],
      ['--dry-run=client with -A', {namespaces: 'all', dryRun: 'client'}, '--dry-run=client contacts no cluster'],
      [
        '--dry-run=client with --attach-to-all-sa',
        {attachTo: 'all', dryRun: 'client'},
        '--dry-run=client contacts no cluster',
      ],
      ['an unreadable --ca-file', {caFile: '/nonexistent/ca.pem'}, '--ca-file'],
      ['a --ca-file that is not PEM', {caFile: '/etc/hostname'}, '--ca-file /etc/hostname is not a PEM certificate'],
    ]
    for (const [what, overrides, message] of refused) {
      it(`refuses ${what}`, () => {
        expect(() => validateRegcredOptions(options(overrides))).to.throw(UserError, message)
      })
    }

    it('accepts a complete set, and the password appears in no refusal', () => {
      expect(() => validateRegcredOptions(options())).not.to.throw()
      for (const [, overrides] of refused) {
        try {
          validateRegcredOptions(options(overrides))
        } catch (error) {
          expect((error as Error).message).not.to.include('canary-Pa55word')
        }
      }
    })
  })

  it('the payload is the docker config kubectl writes; with --from-docker-config the file byte for byte', () => {
    const {payload, credentials} = regcredPayload(options())
    const auth = Buffer.from('ci:canary-Pa55word').toString('base64')
    expect(payload).to.equal(
      `{"auths":{"registry.example.com":{"username":"ci","password":"canary-Pa55word","auth":"${auth}"}}}`,
    )
    expect(credentials).to.deep.equal([
      {server: 'registry.example.com', username: 'ci', password: 'canary-Pa55word', email: undefined},
    ])
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-regcred-unit-')), 'config.json')
    const text = `{"auths": {"r.example.com": {"auth": "${Buffer.from('u:p').toString('base64')}"}}}\n`
    writeFileSync(file, text)
    const fromFile = regcredPayload(
      options({dockerConfigFile: file, server: undefined, username: undefined, password: undefined}),
    )
    expect(fromFile.payload).to.equal(text)
    expect(fromFile.credentials.map((c) => `${c.username}@${c.server}`)).to.deep.equal(['u@r.example.com'])
  })

  it("the Secret has kubectl's shape and key order; --append-hash appends a content hash", () => {
    const {payload} = regcredPayload(options())
    const secret = buildRegcredSecret(options(), payload, 'team-a')
    expect(JSON.stringify(secret)).to.equal(
      JSON.stringify({
        kind: 'Secret',
        apiVersion: 'v1',
        metadata: {name: 'regcred', namespace: 'team-a', creationTimestamp: null},
        data: {'.dockerconfigjson': Buffer.from(payload).toString('base64')},
        type: 'kubernetes.io/dockerconfigjson',
      }),
    )
    const hashed = buildRegcredSecret(options({appendHash: true}), payload)
    expect(hashed.metadata.name).to.match(/^regcred-[a-z0-9]{10}$/)
    expect(buildRegcredSecret(options({appendHash: true}), payload).metadata.name).to.equal(hashed.metadata.name)
  })

  it('--dry-run=client: one secret and one kubectl-style line per namespace', () => {
    const opts = options({namespaces: ['a', 'b'], namespaceExplicit: true, attachTo: ['builder'], dryRun: 'client'})
    const planned = clientDryRun(opts, regcredPayload(opts).payload)
    expect(planned.map((p) => p.line)).to.deep.equal([
      'secret/regcred created in namespace "a"; would attach to serviceaccount/builder (dry run)',
      'secret/regcred created in namespace "b"; would attach to serviceaccount/builder (dry run)',
    ])
    expect(planned.map((p) => p.secret.metadata.namespace)).to.deep.equal(['a', 'b'])
  })

  it("describes each namespace's result as kubectl would; a failure has no line (its error is printed)", () => {
    expect(
      describeNamespaceResult(
        {
          namespace: 'a',
          action: 'created',
          serviceAccounts: [
            {name: 'builder', action: 'attached'},
            {name: 'default', action: 'unchanged'},
          ],
        },
        'regcred',
        'server',
      ),
    ).to.equal(
      'secret/regcred created in namespace "a"; attached to serviceaccount/builder; already in serviceaccount/default (server dry run)',
    )
    expect(
      describeNamespaceResult(
        {namespace: 'a', action: 'failed', serviceAccounts: [], error: 'forbidden'},
        'regcred',
        'none',
      ),
    ).to.equal(undefined)
  })
})

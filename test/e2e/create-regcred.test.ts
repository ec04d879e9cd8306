import {expect} from 'chai'
import {chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {CLI, cliTranscript, KUBECTL, runCli, runProgram} from '../support/cli.js'
import {freePort, registryBinary, type RunningRegistry, startRegistry} from '../support/registry.js'
import {createTestCa} from '../support/tls.js'

// Every password used below; the last test proves none of them was ever printed.
const PASSWORD = 'Corr3ct-H0rse-Battery'
const WRONG_PASSWORD = 'Wr0ng-Passw0rd-Staple'
const UNICODE_PASSWORD = 'pässwörd-€-<&>-日本'
const ALL_PASSWORDS = [PASSWORD, WRONG_PASSWORD, UNICODE_PASSWORD]
const USER = 'dock_user'

function decodeDockerConfig(secret: {data?: Record<string, string>}): unknown {
  return JSON.parse(Buffer.from(secret.data!['.dockerconfigjson'], 'base64').toString('utf8'))
}

describe('create-regcred (built CLI)', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-regcred-'))
  })

  describe('byte-compatible with kubectl create secret docker-registry', () => {
    const inputs: Array<{title: string; args: string[]}> = [
      {
        title: 'server with port and email',
        args: [
          '--docker-server',
          'myprivateregistry.com:5000',
          '--docker-username',
          USER,
          '--docker-password',
          PASSWORD,
          '--docker-email',
          'dock_user@myprivateregistry.com',
        ],
      },
      {
        title: 'no email',
        args: ['--docker-server', 'registry.example.com', '--docker-username', USER, '--docker-password', PASSWORD],
      },
      {title: 'default server', args: ['--docker-username', USER, '--docker-password', PASSWORD]},
      {
        title: 'unicode and HTML characters in the password',
        args: [
          '--docker-server',
          'https://reg.example.com:8443/v2/',
          '--docker-username',
          'ü-user',
          '--docker-password',
          UNICODE_PASSWORD,
        ],
      },
      {
        title: 'explicit namespace',
        args: [
          '--docker-server',
          'reg.example.com',
          '--docker-username',
          USER,
          '--docker-password',
          PASSWORD,
          '-n',
          'team-a',
        ],
      },
      {
        title: '--append-hash',
        args: [
          '--docker-server',
          'reg.example.com',
          '--docker-username',
          USER,
          '--docker-password',
          PASSWORD,
          '--append-hash',
        ],
      },
    ]
    for (const {title, args} of inputs) {
      for (const format of ['json', 'yaml']) {
        it(`${title} (-o ${format})`, async () => {
          const ours = await runCli(['create-regcred', 'regcred', ...args, '--dry-run=client', '-o', format])
          const theirs = await runProgram(
            KUBECTL,
            [
              'create',
              'secret',
              'docker-registry',
              'regcred',
              ...args.map((a) => (a === '--docker-password' ? '--docker-password' : a)),
              '--dry-run=client',
              '-o',
              format,
            ],
            {env: {KUBECONFIG: '/nonexistent'}},
          )
          expect(theirs.code, theirs.stderr).to.equal(0)
          expect(ours.code, ours.stderr).to.equal(0)
          expect(ours.stdout).to.equal(theirs.stdout)
        })
      }
    }

    it('--from-docker-config stores the file as kubectl --from-file does', async () => {
      const file = path.join(dir, 'config.json')
      writeFileSync(
        file,
        JSON.stringify(
          {auths: {'reg.example.com': {auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}}},
          null,
          '\t',
        ) + '\n',
      )
      const ours = await runCli([
        'create-regcred',
        'regcred',
        '--from-docker-config',
        file,
        '--dry-run=client',
        '-o',
        'json',
      ])
      const theirs = await runProgram(
        KUBECTL,
        [
          'create',
          'secret',
          'docker-registry',
          'regcred',
          `--from-file=.dockerconfigjson=${file}`,
          '--dry-run=client',
          '-o',
          'json',
        ],
        {env: {KUBECONFIG: '/nonexistent'}},
      )
      expect(ours.code, ours.stderr).to.equal(0)
      expect(ours.stdout).to.equal(theirs.stdout)
    })

    it('the decoded payload is the docker config kubectl documents', async () => {
      const ours = await runCli([
        'create-regcred',
        'regcred',
        '--docker-username',
        USER,
        '--docker-password',
        PASSWORD,
        '--docker-email',
        'e@example.com',
        '--dry-run=client',
        '-o',
        'json',
      ])
      expect(decodeDockerConfig(JSON.parse(ours.stdout))).to.deep.equal({
        auths: {
          'https://index.docker.io/v1/': {
            username: USER,
            password: PASSWORD,
            email: 'e@example.com',
            auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
          },
        },
      })
    })

    it('runs as a kubectl plugin through the real kubectl', async () => {
      const bin = path.join(dir, 'plugin-bin')
      mkdirSync(bin, {recursive: true})
      symlinkSync(CLI, path.join(bin, 'kubectl-imgsec'))
      chmodSync(CLI, 0o755)
      const result = await runProgram(
        KUBECTL,
        [
          'imgsec',
          'create-regcred',
          'regcred',
          '--docker-username',
          USER,
          '--docker-password',
          PASSWORD,
          '--dry-run=client',
          '-o',
          'name',
        ],
        {
          env: {
            PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`,
            KUBECONFIG: '/nonexistent',
          },
        },
      )
      cliTranscript.push({args: ['kubectl', 'imgsec'], ...result})
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal('secret/regcred\n')
    })
  })

  describe('against the fake API server', () => {
    let api: FakeKubeApiServer
    let kubeconfig: string
    let registry: RunningRegistry | undefined
    let tlsRegistry: RunningRegistry | undefined

    before(async function () {
      api = await FakeKubeApiServer.start({namespaces: ['team-a', 'team-b']})
      kubeconfig = await api.writeKubeconfig(path.join(dir, 'kubeconfig'), {namespace: 'team-a'})
      if (registryBinary()) {
        ;[registry, tlsRegistry] = await Promise.all([
          startRegistry({users: {[USER]: PASSWORD}}),
          startRegistry({users: {[USER]: PASSWORD}, tls: true}),
        ])
      } else {
        console.warn(
          'WARNING: docker-registry is not installed: create-regcred --verify tests will be skipped (apt-get install docker-registry apache2-utils)',
        )
      }
    })
    after(async () => {
      await Promise.all([api?.stop(), registry?.stop(), tlsRegistry?.stop()])
    })

    const run = (args: string[], input?: string) =>
      runCli(['create-regcred', ...args], {env: {KUBECONFIG: kubeconfig}, input})
    const secretWrites = () => api.requests.filter((r) => r.path.includes('/secrets') && r.method !== 'GET')

    it("creates the secret in the context's namespace; the real kubectl reads it back", async () => {
      const result = await run(
        ['plain', '--docker-server', 'reg.example.com', '--docker-username', USER, '--password-stdin', '--no-verify'],
        `${PASSWORD}\n`,
      )
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal('secret/plain created in namespace "team-a"\n')
      const read = await runProgram(KUBECTL, [
        '--kubeconfig',
        kubeconfig,
        'get',
        'secret',
        'plain',
        '-n',
        'team-a',
        '-o',
        'json',
      ])
      expect(read.code, read.stderr).to.equal(0)
      const secret = JSON.parse(read.stdout)
      expect(secret.type).to.equal('kubernetes.io/dockerconfigjson')
      expect(decodeDockerConfig(secret)).to.deep.equal({
        auths: {
          'reg.example.com': {
            username: USER,
            password: PASSWORD,
            auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
          },
        },
      })
    })

    describe('--verify against the real registry', () => {
      before(function () {
        if (!registry) this.skip()
      })

      it('right password: verifies, then creates', async () => {
        const result = await run(
          ['verified', '--docker-server', registry!.url, '--docker-username', USER, '--password-stdin'],
          PASSWORD,
        )
        expect(result.code, result.stderr).to.equal(0)
        expect(result.stderr).to.contain('registry login checked')
        expect(api.getObject('secrets', 'team-a', 'verified')).to.not.equal(undefined)
      })

      it('wrong password: clear error, exit 1, nothing created', async () => {
        const before = secretWrites().length
        const result = await run(
          [
            'wrongpw',
            '--docker-server',
            registry!.url,
            '--docker-username',
            USER,
            '--password-stdin',
            '--namespaces',
            'team-a,team-b',
          ],
          WRONG_PASSWORD,
        )
        expect(result.code).to.equal(1)
        expect(result.stderr).to.match(
          /^error: registry 127\.0\.0\.1:\d+ rejected username "dock_user" and the password \(HTTP 401/,
        )
        expect(secretWrites().length).to.equal(before)
        expect(api.getObject('secrets', 'team-a', 'wrongpw')).to.equal(undefined)
      })

      it('TLS registry with --ca-file', async () => {
        const result = await run([
          'tlsreg',
          '--docker-server',
          tlsRegistry!.host,
          '--docker-username',
          USER,
          '--docker-password',
          PASSWORD,
          '--ca-file',
          tlsRegistry!.caFile!,
        ])
        expect(result.code, result.stderr).to.equal(0)
        expect(api.getObject('secrets', 'team-a', 'tlsreg')).to.not.equal(undefined)
      })

      it('TLS registry without its CA: says so and suggests --ca-file', async () => {
        const result = await run([
          'tlsnoca',
          '--docker-server',
          tlsRegistry!.host,
          '--docker-username',
          USER,
          '--docker-password',
          PASSWORD,
        ])
        expect(result.code).to.equal(1)
        expect(result.stderr).to.match(
          /TLS verification of the registry at https:\/\/127\.0\.0\.1:\d+ failed.*--ca-file/,
        )
        expect(api.getObject('secrets', 'team-a', 'tlsnoca')).to.equal(undefined)
      })
    })

    it('unreachable registry: says so, nothing created', async () => {
      const port = await freePort()
      const result = await run([
        'unreach',
        '--docker-server',
        `http://127.0.0.1:${port}`,
        '--docker-username',
        USER,
        '--docker-password',
        PASSWORD,
      ])
      expect(result.code).to.equal(1)
      expect(result.stderr).to.equal(
        `error: cannot connect to the registry at http://127.0.0.1:${port}: connection refused; check --docker-server, or skip the check with --no-verify\n`,
      )
      expect(api.getObject('secrets', 'team-a', 'unreach')).to.equal(undefined)
    })

    describe('service accounts', () => {
      it('--attach-to-sa keeps existing imagePullSecrets and never duplicates', async () => {
        api.seed({
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: {name: 'builder', namespace: 'team-b'},
          imagePullSecrets: [{name: 'old-one'}, {name: 'old-two'}],
        })
        const args = [
          'attached',
          '--docker-server',
          'reg.example.com',
          '--docker-username',
          USER,
          '--docker-password',
          PASSWORD,
          '--no-verify',
          '-n',
          'team-b',
          '--attach-to-sa',
          'builder,default',
        ]
        const first = await run(args)
        expect(first.code, first.stderr).to.equal(0)
        expect(first.stdout).to.equal(
          'secret/attached created in namespace "team-b"; attached to serviceaccount/builder, serviceaccount/default\n',
        )
        expect(api.getObject('serviceaccounts', 'team-b', 'builder')!.imagePullSecrets).to.deep.equal([
          {name: 'old-one'},
          {name: 'old-two'},
          {name: 'attached'},
        ])
        expect(api.getObject('serviceaccounts', 'team-b', 'default')!.imagePullSecrets).to.deep.equal([
          {name: 'attached'},
        ])
        const patches = api.requests.filter(
          (r) => r.method === 'PATCH' && r.path.startsWith('/api/v1/namespaces/team-b/serviceaccounts/'),
        )
        expect(patches.map((r) => r.contentType)).to.deep.equal([
          'application/json-patch+json',
          'application/json-patch+json',
        ])

        const second = await run([...args, '--overwrite'])
        expect(second.code, second.stderr).to.equal(0)
        expect(second.stdout).to.equal(
          'secret/attached unchanged in namespace "team-b"; already in serviceaccount/builder, serviceaccount/default\n',
        )
        expect(api.getObject('serviceaccounts', 'team-b', 'builder')!.imagePullSecrets).to.deep.equal([
          {name: 'old-one'},
          {name: 'old-two'},
          {name: 'attached'},
        ])
      })

      it('--attach-to-all-sa attaches to every service account of the namespace', async () => {
        api.seed({apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'deployer', namespace: 'team-a'}})
        const result = await run([
          'everysa',
          '--docker-username',
          USER,
          '--docker-password',
          PASSWORD,
          '--no-verify',
          '--attach-to-all-sa',
        ])
        expect(result.code, result.stderr).to.equal(0)
        for (const sa of api.listObjects('serviceaccounts', 'team-a')) {
          expect(sa.imagePullSecrets, sa.metadata.name).to.deep.include({name: 'everysa'})
        }
      })

      it('a missing service account fails that namespace before its secret is created', async () => {
        const result = await run([
          'nosa',
          '--docker-username',
          USER,
          '--docker-password',
          PASSWORD,
          '--no-verify',
          '--attach-to-sa',
          'ghost',
        ])
        expect(result.code).to.equal(1)
        expect(result.stdout).to.equal('')
        expect(result.stderr).to.equal(
          'error: namespace "team-a": serviceaccounts "ghost" in namespace "team-a" not found\n',
        )
        expect(api.getObject('secrets', 'team-a', 'nosa')).to.equal(undefined)
      })
    })

    it('many namespaces: one line each, a failure reported, the successes kept, exit 1', async () => {
      const result = await run([
        'multi',
        '--docker-username',
        USER,
        '--docker-password',
        PASSWORD,
        '--no-verify',
        '--namespaces',
        'team-a,missing-ns,team-b',
      ])
      expect(result.code).to.equal(1)
      expect(result.stdout).to.equal(
        'secret/multi created in namespace "team-a"\nsecret/multi created in namespace "team-b"\n',
      )
      expect(result.stderr).to.equal(
        'error: namespace "missing-ns": namespace "missing-ns" not found; create it first (kubectl create namespace missing-ns)\n',
      )
      expect(api.getObject('secrets', 'team-a', 'multi')).to.not.equal(undefined)
      expect(api.getObject('secrets', 'team-b', 'multi')).to.not.equal(undefined)
    })

    it('-A creates the secret in every namespace', async () => {
      const result = await run([
        'everywhere',
        '--docker-username',
        USER,
        '--docker-password',
        PASSWORD,
        '--no-verify',
        '-A',
        '-o',
        'name',
      ])
      expect(result.code, result.stderr).to.equal(0)
      const namespaces = api.listObjects('namespaces').map((ns) => ns.metadata.name)
      expect(namespaces).to.include.members(['default', 'kube-system', 'team-a', 'team-b'])
      for (const namespace of namespaces)
        expect(api.getObject('secrets', namespace, 'everywhere'), namespace).to.not.equal(undefined)
      expect(result.stdout).to.equal('secret/everywhere\n'.repeat(namespaces.length))
    })

    describe('existing secrets', () => {
      const args = ['--docker-server', 'reg.example.com', '--docker-username', USER, '--no-verify']
      it('AlreadyExists without --overwrite', async () => {
        expect((await run(['exists', ...args, '--docker-password', PASSWORD])).code).to.equal(0)
        const again = await run(['exists', ...args, '--docker-password', PASSWORD])
        expect(again.code).to.equal(1)
        expect(again.stderr).to.equal(
          'error: namespace "team-a": secret "exists" already exists in namespace "team-a"; pass --overwrite to update it\n',
        )
      })

      it('--overwrite updates in place, and a second run changes nothing', async () => {
        const before = api.getObject('secrets', 'team-a', 'exists')!
        const updated = await run(['exists', ...args, '--docker-password', UNICODE_PASSWORD, '--overwrite'])
        expect(updated.code, updated.stderr).to.equal(0)
        expect(updated.stdout).to.equal('secret/exists configured in namespace "team-a"\n')
        const after = api.getObject('secrets', 'team-a', 'exists')!
        expect(after.metadata.uid).to.equal(before.metadata.uid)
        expect(decodeDockerConfig(after)).to.have.nested.property(
          'auths.reg\\.example\\.com.password',
          UNICODE_PASSWORD,
        )
        const rv = after.metadata.resourceVersion
        const again = await run(['exists', ...args, '--docker-password', UNICODE_PASSWORD, '--overwrite'])
        expect(again.stdout).to.equal('secret/exists unchanged in namespace "team-a"\n')
        expect(api.getObject('secrets', 'team-a', 'exists')!.metadata.resourceVersion).to.equal(rv)
      })

      it('refuses to overwrite a secret of another type', async () => {
        api.seed({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {name: 'opaque', namespace: 'team-a'},
          type: 'Opaque',
          data: {a: 'YQ=='},
        })
        const result = await run(['opaque', ...args, '--docker-password', PASSWORD, '--overwrite'])
        expect(result.code).to.equal(1)
        expect(result.stderr).to.contain("has type Opaque; a secret's type cannot change, so delete it first")
        expect(api.getObject('secrets', 'team-a', 'opaque')!.type).to.equal('Opaque')
      })
    })

    it('--dry-run=server sends dryRun=All and stores nothing', async () => {
      const result = await run([
        'serverdry',
        '--docker-username',
        USER,
        '--docker-password',
        PASSWORD,
        '--no-verify',
        '--dry-run=server',
        '--attach-to-sa',
        'default',
        '-o',
        'json',
      ])
      expect(result.code, result.stderr).to.equal(0)
      expect(JSON.parse(result.stdout)).to.have.nested.property('metadata.name', 'serverdry')
      expect(api.getObject('secrets', 'team-a', 'serverdry')).to.equal(undefined)
      expect(api.getObject('serviceaccounts', 'team-a', 'default')!.imagePullSecrets ?? []).to.not.deep.include({
        name: 'serverdry',
      })
      const writes = api.requests.filter(
        (r) =>
          r.method !== 'GET' &&
          (r.path.endsWith('/secrets') || r.path.includes('/serviceaccounts/default')) &&
          r.query.dryRun !== undefined,
      )
      expect(writes.map((r) => r.query.dryRun)).to.deep.equal(['All', 'All'])
    })

    it('RBAC refusal names the verb, resource and namespace', async () => {
      api.deny({verb: 'create', resource: 'secrets', namespace: 'kube-public'})
      const result = await run([
        'denied',
        '--docker-username',
        USER,
        '--docker-password',
        PASSWORD,
        '--no-verify',
        '-n',
        'kube-public',
        '--as',
        'jane',
      ])
      expect(result.code).to.equal(1)
      expect(result.stderr).to.equal(
        'error: namespace "kube-public": forbidden: RBAC does not allow you to create secrets "denied" in namespace "kube-public": secrets is forbidden: User "jane" cannot create resource "secrets" in API group "" in the namespace "kube-public"\n',
      )
    })

    describe('bad input: clear error, exit 1, nothing created', () => {
      const cases: Array<{title: string; args: string[]; input?: string; error: RegExp}> = [
        {title: 'missing username', args: ['x', '--docker-password', PASSWORD], error: /--docker-username is required/},
        {title: 'missing password', args: ['x', '--docker-username', USER], error: /a password is required/},
        {
          title: 'both password flags',
          args: ['x', '--docker-username', USER, '--docker-password', PASSWORD, '--password-stdin'],
          input: PASSWORD,
          error:
            /^error: --password-stdin=true cannot also be provided when using --docker-password\nSee 'kubectl imgsec create-regcred --help' for usage\.\n$/,
        },
        {
          title: '-n with --namespaces',
          args: ['x', '--docker-username', USER, '--docker-password', PASSWORD, '-n', 'a', '--namespaces', 'b'],
          error: /cannot also be provided when using/,
        },
        {
          title: 'missing secret name',
          args: ['--docker-username', USER, '--docker-password', PASSWORD],
          error: /^error: missing argument NAME \(Name of the Secret/,
        },
        {
          title: 'empty stdin',
          args: ['x', '--docker-username', USER, '--password-stdin'],
          input: '',
          error: /standard input was empty/,
        },
        {
          title: 'invalid secret name',
          args: ['Bad_Name', '--docker-username', USER, '--docker-password', PASSWORD],
          error: /invalid secret name "Bad_Name"/,
        },
        {
          title: 'invalid namespace',
          args: ['x', '--docker-username', USER, '--docker-password', PASSWORD, '-n', 'Team_A'],
          error: /invalid namespace "Team_A"/,
        },
        {
          title: 'unreadable docker config',
          args: ['x', '--from-docker-config', '/nonexistent/config.json'],
          error: /--from-docker-config "\/nonexistent\/config.json" cannot be read: no such file or directory$/m,
        },
        {
          title: 'unknown flag',
          args: ['x', '--docker-usernam', USER],
          error: /^error: unknown flag: --docker-usernam; did you mean --docker-username\?\n/,
        },
        {
          title: 'unknown context',
          args: ['x', '--docker-username', USER, '--docker-password', PASSWORD, '--context', 'prod'],
          error: /context "prod" does not exist/,
        },
      ]
      for (const {title, args, input, error} of cases) {
        it(title, async () => {
          const before = secretWrites().length
          const result = await run([...args, '--no-verify'], input)
          expect(result.code).to.equal(1)
          expect(result.stderr).to.match(/^error: /)
          expect(result.stderr).to.match(error)
          expect(result.stderr).to.not.match(/\n\s+at /)
          expect(secretWrites().length).to.equal(before)
        })
      }

      it('malformed docker config names the file', async () => {
        const file = path.join(dir, 'broken.json')
        writeFileSync(file, `{"auths": {"reg.example.com": {"auth": "${PASSWORD}"`)
        const result = await run(['x', '--from-docker-config', file, '--no-verify'])
        expect(result.code).to.equal(1)
        expect(result.stderr).to.contain(`--from-docker-config "${file}" is not valid JSON`)
      })
    })

    it('connection refused names the server URL', async () => {
      const port = await freePort()
      const closed = path.join(dir, 'closed-kubeconfig')
      writeFileSync(closed, api.kubeconfig().replaceAll(api.url, `http://127.0.0.1:${port}`))
      const result = await runCli(
        ['create-regcred', 'x', '--docker-username', USER, '--docker-password', PASSWORD, '--no-verify', '--debug'],
        {env: {KUBECONFIG: closed}},
      )
      expect(result.code).to.equal(1)
      expect(result.stderr).to.contain(
        `cannot connect to the Kubernetes API server at http://127.0.0.1:${port}: connection refused`,
      )
    })

    it('an API server with an untrusted certificate: TLS failure names the server URL', async () => {
      const ca = await createTestCa()
      const cert = await ca.issue({cn: 'kube-apiserver', ipAddresses: ['127.0.0.1']})
      const tlsApi = await FakeKubeApiServer.start({tls: {cert: cert.certPem, key: cert.keyPem}})
      try {
        const file = path.join(dir, 'tls-kubeconfig')
        await tlsApi.writeKubeconfig(file)
        const result = await runCli(
          ['create-regcred', 'x', '--docker-username', USER, '--docker-password', PASSWORD, '--no-verify'],
          {env: {KUBECONFIG: file}},
        )
        expect(result.code).to.equal(1)
        expect(result.stderr).to.match(
          new RegExp(`TLS verification of the Kubernetes API server at ${tlsApi.url.replaceAll('.', '\\.')} failed`),
        )
      } finally {
        await tlsApi.stop()
      }
    })
  })

  // A describe of its own, last: mocha runs a suite's own tests before its nested suites.
  describe('secrets stay secret', () =>
    it('no password ever appears in any output of these tests (stdout, stderr, --debug)', () => {
      expect(cliTranscript.length).to.be.greaterThan(20)
      for (const run of cliTranscript) {
        for (const password of ALL_PASSWORDS) {
          expect(run.stdout, `stdout of ${run.args.join(' ').replaceAll(password, '***')}`).to.not.contain(password)
          expect(run.stderr, `stderr of ${run.args.join(' ').replaceAll(password, '***')}`).to.not.contain(password)
        }
      }
    }))
})

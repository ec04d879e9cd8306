import {expect} from 'chai'
import {chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {cliTranscript, ROOT, runCli} from '../support/cli.js'
import {createTestCa} from '../support/tls.js'

// A secret that stands for a password, a token or a key: it is in every file and every answer
// below, and must appear in no output of any run (stdout, stderr, with and without --debug).
const CANARY = 'TopSecret99-canary'
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml')

type Handler = (req: IncomingMessage, res: ServerResponse, url: string) => void

/** One HTTP server whose answers each test sets: an API server, a proxy or a registry gone wrong. */
async function startServer(): Promise<{url: string; port: number; answer: (handler: Handler) => void; server: Server}> {
  let handler: Handler = (_req, res) => res.end()
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => handler(req, res, `http://127.0.0.1:${(server.address() as AddressInfo).port}`))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    answer: (next) => {
      handler = next
    },
  }
}

function expectNoCanary(result: {stdout: string; stderr: string}): void {
  expect(result.stdout, 'stdout').not.to.contain(CANARY)
  expect(result.stderr, 'stderr').not.to.contain(CANARY)
  // Nor a fragment of it (a parser quotes a few characters around the failure).
  expect(result.stderr, 'stderr').not.to.match(/TopSecret|canary/)
}

describe('no secret in any message: every error path that wraps a parser or an HTTP answer (canary)', () => {
  let dir: string
  let server: Awaited<ReturnType<typeof startServer>>
  let kubeconfig: string
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-msgs-'))
    server = await startServer()
    kubeconfig = writeKubeconfig('kubeconfig', `{token: plain-token}`)
  })
  after(() => server?.server.close())

  function write(name: string, content: string): string {
    const file = path.join(dir, name)
    writeFileSync(file, content)
    return file
  }
  function writeKubeconfig(name: string, user: string, serverUrl?: string): string {
    return write(
      name,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: c, cluster: {server: "${serverUrl ?? server.url}", insecure-skip-tls-verify: true}}]`,
        `users: [{name: u, user: ${user}}]`,
        'contexts: [{name: ctx, context: {cluster: c, user: u, namespace: default}}]',
        'current-context: ctx',
        '',
      ].join('\n'),
    )
  }
  /** Run, and run again with --debug: neither may print the canary; the first's stderr is returned. */
  async function fails(args: string[], options: {env?: Record<string, string>; code?: number} = {}) {
    const result = await runCli(args, {env: options.env})
    expect(result.code, result.stderr).to.equal(options.code ?? 1)
    expectNoCanary(result)
    const debug = await runCli([...args, '--debug'], {env: options.env})
    expectNoCanary(debug)
    return result
  }

  describe('docker configs', () => {
    const regcred = (file: string) => ['create-regcred', 'x', '--from-docker-config', file, '--dry-run=client']
    it('create-regcred --from-docker-config: a file that is not JSON', async () => {
      const file = write('not-json.json', `${CANARY}\n`)
      const result = await fails(regcred(file))
      expect(result.stderr).to.equal(
        `error: --from-docker-config "${file}" is not valid JSON (line 1, column 1: expected a JSON value (an object, a list, a "string", a number, true, false or null)); expected a docker config.json like {"auths": {"registry.example.com": {"auth": "…"}}}\n`,
      )
    })
    it('create-regcred --from-docker-config: JSON cut short after a password', async () => {
      const file = write('cut.json', `{"auths": {"reg.example.com": {"auth": "${CANARY}"`)
      const result = await fails(regcred(file))
      expect(result.stderr).to.match(
        /is not valid JSON \(line 1, column \d+: the file ends inside an object \(a missing "}"\)\)/,
      )
    })
    it('create-regcred --from-docker-config: an unquoted password', async () => {
      const file = write('unquoted.json', `{\n  "auths": {\n    "reg.example.com": {"password": ${CANARY}}\n  }\n}\n`)
      const result = await fails(regcred(file))
      expect(result.stderr).to.contain('is not valid JSON (line 3, column 37: expected a JSON value')
    })
    it('create-regcred --from-docker-config: auth that is not base64 of user:password', async () => {
      const file = write('bad-auth.json', JSON.stringify({auths: {'reg.example.com': {auth: CANARY}}}))
      const result = await fails(regcred(file))
      expect(result.stderr).to.contain('auths["reg.example.com"].auth is not base64 of "username:password"')
    })
    it('audit images --docker-config: a file that is not JSON', async () => {
      const file = write('audit-docker-config.json', `{"auths": ${CANARY}}`)
      const result = await fails([
        'audit',
        'images',
        '-f',
        path.join(ROOT, 'examples'),
        '--resolve-digests',
        '--docker-config',
        file,
      ])
      expect(result.stderr).to.contain(`--docker-config "${file}" is not valid JSON (line 1, column 11: `)
    })
  })

  describe('CA files (--ca-file): not PEM, with a secret inside', () => {
    // Node takes a non-PEM `ca` without a word and the handshake then fails as if none were given.
    const notPem = () => write('ca-not-pem.crt', `password: ${CANARY}\n`)
    it('create-regcred --ca-file: one line naming the flag, before any registry is asked', async () => {
      const file = notPem()
      const result = await fails([
        'create-regcred',
        'x',
        '--docker-server',
        '127.0.0.1:1',
        '--docker-username',
        'u',
        '--docker-password',
        'p',
        '--ca-file',
        file,
        '--verify',
        '--dry-run=client',
      ])
      expect(result.stderr).to.equal(
        `error: --ca-file ${file} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)\n`,
      )
    })
    it('audit images --resolve-digests --ca-file: one line naming the flag, nothing audited', async () => {
      const file = notPem()
      const result = await fails([
        'audit',
        'images',
        '-f',
        path.join(ROOT, 'examples'),
        '--resolve-digests',
        '--ca-file',
        file,
      ])
      expect(result.stdout).to.equal('')
      expect(result.stderr).to.equal(
        `error: --ca-file ${file} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)\n`,
      )
    })
  })

  describe('kubeconfigs: tokens, client keys, credential plugins', () => {
    const cluster = (file: string) => ['audit', 'images', '-n', 'default', '--kubeconfig', file]
    it('a token with a bad escape (the parser would quote the line)', async () => {
      const file = writeKubeconfig('escape.kubeconfig', `{token: "\\q${CANARY}"}`)
      const result = await fails(cluster(file))
      expect(result.stderr).to.equal(
        `error: kubeconfig file "${file}" is not valid YAML (line 4, column 34: an invalid \\ escape in a double-quoted string)\n`,
      )
    })
    it('a token that is an alias (the parser would name it)', async () => {
      const file = writeKubeconfig('alias.kubeconfig', `{token: *${CANARY}}`)
      const result = await fails(cluster(file))
      expect(result.stderr).to.match(
        /^error: kubeconfig file "\S+" is not valid YAML \(.*an alias \(\*name\) refers to no anchor defined before it\)\n$/,
      )
    })
    it('a token line that is a nested mapping', async () => {
      const file = write('nested.kubeconfig', `users:\n- name: u\n  user:\n    token: ${CANARY}: x\n`)
      const result = await fails(cluster(file))
      expect(result.stderr).to.match(/is not valid YAML \(line 4, column \d+: a nested mapping on one line/)
    })
    it('an exec credential plugin that prints something other than JSON (its token)', async () => {
      const plugin = write('plugin-not-json.sh', `#!/bin/sh\necho "token ${CANARY}"\n`)
      chmodSync(plugin, 0o755)
      const file = writeKubeconfig(
        'exec-not-json.kubeconfig',
        `{exec: {apiVersion: client.authentication.k8s.io/v1, command: ${plugin}, interactiveMode: Never}}`,
      )
      const result = await fails(cluster(file))
      expect(result.stderr).to.equal(
        `error: the credential plugin "${plugin}" of user "u" of context "ctx" printed something that is not an ExecCredential in JSON; run it by hand to see what it prints\n`,
      )
    })
    it('an exec credential plugin that fails, with a secret on its stderr', async () => {
      const plugin = write('plugin-fails.sh', `#!/bin/sh\necho "cannot refresh ${CANARY}" >&2\nexit 1\n`)
      chmodSync(plugin, 0o755)
      const file = writeKubeconfig(
        'exec-fails.kubeconfig',
        `{exec: {apiVersion: client.authentication.k8s.io/v1, command: ${plugin}, interactiveMode: Never}}`,
      )
      const result = await fails(cluster(file))
      expect(result.stderr).to.equal(
        `error: the credential plugin "${plugin}" of user "u" of context "ctx" failed (it exited with an error); run it by hand to see why\n`,
      )
    })
    it('an exec credential plugin that is not installed', async () => {
      const file = writeKubeconfig(
        'exec-missing.kubeconfig',
        '{exec: {apiVersion: client.authentication.k8s.io/v1, command: imgsec-no-such-plugin, interactiveMode: Never}}',
      )
      const result = await fails(cluster(file))
      expect(result.stderr).to.equal(
        'error: the credential plugin "imgsec-no-such-plugin" of user "u" of context "ctx" cannot be run: no such file or directory (is it installed and on PATH?)\n',
      )
    })
    it('a client key file that does not exist: named, in words', async () => {
      const file = writeKubeconfig(
        'missing-key.kubeconfig',
        `{client-certificate: ${dir}/nope.crt, client-key: ${dir}/nope.key}`,
      )
      const result = await fails(cluster(file))
      expect(result.stderr).to.match(
        /^error: \S+\/nope\.(crt|key), named in the kubeconfig for user "u" of context "ctx" or its cluster, cannot be read: no such file or directory\n$/,
      )
    })
    it('client-key-data that is not a key, against a TLS API server', async () => {
      const ca = await createTestCa()
      const cert = await ca.issue({cn: 'kube-apiserver', ipAddresses: ['127.0.0.1']})
      const tls = createHttpsServer({cert: cert.certPem, key: cert.keyPem}, (_req, res) => res.end('{}'))
      await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve))
      try {
        const data = (text: string) => Buffer.from(text).toString('base64')
        const file = writeKubeconfig(
          'bad-key-data.kubeconfig',
          `{client-certificate-data: ${data(`-----BEGIN CERTIFICATE-----\n${CANARY}\n-----END CERTIFICATE-----\n`)}, client-key-data: ${data(`-----BEGIN PRIVATE KEY-----\n${CANARY}\n-----END PRIVATE KEY-----\n`)}}`,
          `https://127.0.0.1:${(tls.address() as AddressInfo).port}`,
        )
        const result = await fails(cluster(file))
        expect(result.stderr).to.match(
          /^error: cannot set up TLS to the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+: a certificate or key given for it is not valid PEM \(ERR_OSSL_\w+\) \(context "ctx"\)\n$/,
        )
      } finally {
        tls.close()
      }
    })
  })

  describe('API server answers (a proxy, a load balancer, a broken server)', () => {
    const regcred = [
      'create-regcred',
      'x',
      '--docker-username',
      'u',
      '--docker-password',
      'not-the-canary',
      '--no-verify',
    ]
    const audit = ['audit', 'images', '-n', 'default']
    const html =
      (status: number): Handler =>
      (_req, res) => {
        res.writeHead(status, {'content-type': 'text/html'})
        res.end(`<html><body>login as admin with ${CANARY}</body></html>`)
      }
    const cases: Array<{title: string; handler: Handler; said: RegExp}> = [
      {
        title: '403 with an HTML page',
        handler: html(403),
        said: /^error: (namespace "default": )?forbidden: RBAC does not allow you to (create|list) \S+( "x")? in namespace "default"\n$/,
      },
      {
        title: '500 with an HTML page',
        handler: html(500),
        said: /^error: (namespace "default": )?(create|list) \S+( "x")? in namespace "default" failed: HTTP 500\n$/,
      },
      {
        title: '422 with JSON that is not a Status',
        handler: (_req, res) => {
          res.writeHead(422, {'content-type': 'application/json'})
          res.end(JSON.stringify({error: CANARY, message: CANARY}))
        },
        said: /^error: (namespace "default": )?(the API server rejected \S+( "x")? in namespace "default" as invalid|list \S+ in namespace "default" failed: HTTP 422)\n$/,
      },
      {
        title: '200 with a body that is not JSON',
        handler: (_req, res) => {
          res.writeHead(200, {'content-type': 'application/json'})
          res.end(`token=${CANARY}`)
        },
        said: /is not JSON \(is the kubeconfig's server a Kubernetes API server, not a proxy or a web page\?\)\n$/,
      },
    ]
    for (const {title, handler, said} of cases) {
      it(`${title}: create-regcred and audit images`, async () => {
        server.answer(handler)
        for (const args of [regcred, audit]) {
          const result = await fails(args, {env: {KUBECONFIG: kubeconfig}})
          expect(result.stderr).to.match(said)
        }
      })
    }
  })

  describe('registry answers', () => {
    const verify = () => [
      'create-regcred',
      'x',
      '--docker-server',
      server.url,
      '--docker-username',
      'u',
      '--docker-password',
      'not-the-canary',
      '--dry-run=client',
      '--verify',
    ]
    const challenge =
      (header: string): Handler =>
      (_req, res) => {
        res.writeHead(401, {'www-authenticate': header, 'content-type': 'text/plain'})
        res.end(CANARY)
      }
    it('an authentication scheme we do not know', async () => {
      server.answer(challenge(`${CANARY} realm="x"`))
      const result = await fails(verify())
      expect(result.stderr).to.equal(
        `error: registry 127.0.0.1:${server.port} asked for an authentication scheme other than Basic and Bearer (its WWW-Authenticate header); it cannot be checked, pass --no-verify\n`,
      )
    })
    it('a bearer realm that is not a URL', async () => {
      server.answer(challenge(`Bearer realm="${CANARY}"`))
      const result = await fails(verify())
      expect(result.stderr).to.equal(
        `error: registry 127.0.0.1:${server.port} asked for a bearer token but named no valid realm\n`,
      )
    })
    it('a token service that answers something other than JSON', async () => {
      server.answer((req, res, url) => {
        if (req.url!.startsWith('/token')) res.end(`token=${CANARY}`)
        else challenge(`Bearer realm="${url}/token",service="registry"`)(req, res, url)
      })
      const result = await fails(verify())
      expect(result.stderr).to.match(
        /^error: the token service of registry \S+ \(http:\/\/127\.0\.0\.1:\d+\) returned no token\n$/,
      )
    })
    it('a token service that refuses, with a body', async () => {
      server.answer((req, res, url) => {
        if (req.url!.startsWith('/token')) {
          res.writeHead(401)
          res.end(`{"details": "${CANARY}"}`)
        } else challenge(`Bearer realm="${url}/token",service="registry"`)(req, res, url)
      })
      const result = await fails(verify())
      expect(result.stderr).to.match(
        /^error: registry \S+ rejected username "u" and the password \(HTTP 401 from \S+\); check them, nothing was created\n$/,
      )
    })
    it('a registry error page', async () => {
      server.answer((_req, res) => {
        res.writeHead(500)
        res.end(CANARY)
      })
      const result = await fails(verify())
      expect(result.stderr).to.match(/answered HTTP 500, not a Docker Registry v2 API; check --docker-server\n$/)
    })
    it('audit images --resolve-digests against a registry error page', async () => {
      server.answer((_req, res) => {
        res.writeHead(500)
        res.end(CANARY)
      })
      const manifest = write(
        'pod.yaml',
        `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: "127.0.0.1:${server.port}/app:1"}\n`,
      )
      const result = await runCli(['audit', 'images', '-f', manifest, '--resolve-digests', '--fail-on', 'none'])
      expectNoCanary(result)
      expect(result.stderr).to.contain('the registry answered HTTP 500')
    })
  })

  describe('policy files', () => {
    const cases: Array<{title: string; content: string; said: RegExp}> = [
      {
        title: 'a boolean that is a string',
        content: `denyLatest: ${CANARY}\n`,
        said: /:1: denyLatest: must be true or false, not a string/,
      },
      {
        title: 'a registry that is not a registry',
        content: `allowedRegistries: ["${CANARY}/!!"]\n`,
        said: /:1: allowedRegistries\[0\]: expected a registry host/,
      },
      {
        title: 'a namespace that is not a namespace',
        content: `exemptNamespaces: [${CANARY}_X]\n`,
        said: /:1: exemptNamespaces\[0\]: not a valid namespace name/,
      },
      {
        title: 'a bad escape',
        content: `allowedRegistries: [docker.io]\nnote: "\\q${CANARY}"\n`,
        said: /is not valid YAML \(line 2, column 8: an invalid \\ escape in a double-quoted string\)/,
      },
      {
        title: 'an alias without anchor',
        content: `allowedRegistries: *${CANARY}\n`,
        said: /is not valid YAML \(an alias \(\*name\) refers to no anchor defined before it\)/,
      },
      {
        title: 'a block scalar header with text',
        content: `allowedRegistries: |${CANARY}\n  x\n`,
        said: /is not valid YAML \(line 1, column \d+: unexpected text\)/,
      },
    ]
    for (const {title, content, said} of cases) {
      it(`${title}: audit images --policy and webhook serve --policy`, async () => {
        const file = write(`policy-${title.replaceAll(' ', '-')}.yaml`, content)
        const audit = await fails([
          'audit',
          'images',
          '-f',
          path.join(ROOT, 'examples', 'cronjob.yaml'),
          '--policy',
          file,
        ])
        expect(audit.stderr).to.match(said)
        expect(audit.stderr).to.contain(file)
        const serve = await fails(['webhook', 'serve', '--cert', '/nope.crt', '--key', '/nope.key', '--policy', file])
        expect(serve.stderr).to.match(said)
      })
    }
  })

  describe("manifests: audit images -f (a Secret's stringData, say)", () => {
    const cases: Array<{title: string; content: string; said: RegExp}> = [
      {
        title: 'a bad escape',
        content: `apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  password: "\\q${CANARY}"\n`,
        said: /:5: YAML syntax error: an invalid \\ escape in a double-quoted string\n/,
      },
      {
        title: 'a nested mapping',
        content: `apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  password: ${CANARY}: x\n`,
        said: /:5: YAML syntax error: a nested mapping on one line/,
      },
      {
        title: 'an alias without anchor',
        content: `apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  password: *${CANARY}\n`,
        said: /:1: YAML syntax error: an alias \(\*name\) refers to no anchor defined before it\n/,
      },
      {
        title: 'a reserved first character',
        content: `apiVersion: v1\nkind: Secret\nstringData:\n  password: @${CANARY}\n`,
        said: /:4: YAML syntax error: a value starts with a reserved character/,
      },
    ]
    for (const {title, content, said} of cases) {
      it(title, async () => {
        const file = write(`manifest-${title.replaceAll(' ', '-')}.yaml`, content)
        const result = await fails(['audit', 'images', '-f', file])
        expect(result.stderr).to.match(said)
        expect(result.stderr).to.contain(file)
      })
    }
  })

  describe('patch-apiserver: the manifest, admission configurations, the webhook kubeconfig', () => {
    function controlPlane(name: string) {
      const root = path.join(dir, name)
      mkdirSync(path.join(root, 'manifests'), {recursive: true})
      const manifest = path.join(root, 'manifests', 'kube-apiserver.yaml')
      copyFileSync(FIXTURE, manifest)
      return {
        root,
        manifest,
        base: ['patch-apiserver', '--manifest', manifest, '--backup-dir', path.join(root, 'backups'), '--dry-run'],
      }
    }
    it('a manifest with a broken line', async () => {
      const cp = controlPlane('broken-manifest')
      writeFileSync(
        cp.manifest,
        readFileSync(FIXTURE, 'utf8').replace(
          '    - kube-apiserver\n',
          `    - kube-apiserver\n    - "--token-auth-file=\\q${CANARY}"\n`,
        ),
      )
      const result = await fails([...cp.base, '--enable-plugins', 'EventRateLimit'])
      expect(result.stderr).to.match(
        /is not valid YAML \(line \d+, column \d+: an invalid \\ escape in a double-quoted string\); fix it by hand or restore a backup \(--restore\)\n$/,
      )
    })
    const admission = (imagePolicy: string) =>
      `apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: ImagePolicyWebhook\n  configuration:\n    imagePolicy:\n${imagePolicy}`
    const cases: Array<{title: string; content: (root: string) => string; said: RegExp}> = [
      {
        title: 'defaultAllow that is a string',
        content: (root) =>
          admission(`      kubeConfigFile: ${root}/webhook.kubeconfig\n      defaultAllow: ${CANARY}\n`),
        said: /imagePolicy\.defaultAllow must be true or false, not a string/,
      },
      {
        title: 'allowTTL that is a string',
        content: (root) => admission(`      kubeConfigFile: ${root}/webhook.kubeconfig\n      allowTTL: ${CANARY}\n`),
        said: /imagePolicy\.allowTTL must be an integer number of seconds in 1–1800 .*, not a string/,
      },
      {
        title: 'a bad escape',
        content: () => admission(`      kubeConfigFile: "\\q${CANARY}"\n`),
        said: /admission configuration \S+ is not valid YAML \(line 7, column \d+: an invalid \\ escape/,
      },
      {
        title: 'an alias without anchor',
        content: () => admission(`      kubeConfigFile: *${CANARY}\n`),
        said: /admission configuration \S+ is not valid YAML \(an alias/,
      },
    ]
    for (const {title, content, said} of cases) {
      it(`admission configuration: ${title}`, async () => {
        const cp = controlPlane(`admission-${title.replaceAll(' ', '-')}`)
        const file = path.join(cp.root, 'admission.yaml')
        writeFileSync(file, content(cp.root))
        const result = await fails([...cp.base, '--enable-plugins', 'ImagePolicyWebhook', '--admission-config', file])
        expect(result.stderr).to.match(said)
      })
    }
    it('a webhook kubeconfig with a broken token line', async () => {
      const cp = controlPlane('webhook-kubeconfig')
      const webhook = path.join(cp.root, 'webhook.kubeconfig')
      writeFileSync(
        webhook,
        `apiVersion: v1\nkind: Config\nusers:\n- name: apiserver\n  user:\n    token: "\\q${CANARY}"\n`,
      )
      const file = path.join(cp.root, 'admission.yaml')
      writeFileSync(
        file,
        admission(
          `      kubeConfigFile: ${webhook}\n      allowTTL: 50\n      denyTTL: 50\n      retryBackoff: 500\n      defaultAllow: false\n`,
        ),
      )
      const result = await fails([...cp.base, '--enable-plugins', 'ImagePolicyWebhook', '--admission-config', file])
      expect(result.stderr).to.equal(
        `error: webhook kubeconfig ${webhook} is not valid YAML (line 6, column 13: an invalid \\ escape in a double-quoted string)\n`,
      )
    })
  })

  describe('whitelist: policies, the backend CA, state and configuration files', () => {
    /** A control-plane node in `dir`: manifests, config and backup directories. */
    function node(name: string): {flags: string[]; configDir: string} {
      const root = path.join(dir, name)
      mkdirSync(path.join(root, 'manifests'), {recursive: true})
      copyFileSync(FIXTURE, path.join(root, 'manifests', 'kube-apiserver.yaml'))
      const configDir = path.join(root, 'imgsec')
      return {
        configDir,
        flags: [
          '--config-dir',
          configDir,
          '--manifests-dir',
          path.join(root, 'manifests'),
          '--backup-dir',
          path.join(root, 'backups'),
        ],
      }
    }

    it('whitelist rotate-certs: a CA certificate and a CA key that hold a secret instead', async () => {
      const n = node('wl6')
      mkdirSync(path.join(n.configDir, 'pki'), {recursive: true})
      writeFileSync(path.join(n.configDir, 'state.json'), JSON.stringify({placement: 'static'}))
      const caCert = path.join(n.configDir, 'pki', 'ca.crt')
      const caKey = path.join(n.configDir, 'pki', 'ca.key')
      writeFileSync(caCert, `${CANARY}\n`)
      writeFileSync(caKey, `-----BEGIN PRIVATE KEY-----\n${CANARY}\n-----END PRIVATE KEY-----\n`)
      const cert = await fails(['whitelist', 'rotate-certs', '--config-dir', n.configDir])
      expect(cert.stderr).to.equal(
        `error: the CA certificate ${caCert} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)\n`,
      )
      copyFileSync((await createTestCa()).caCertFile, caCert)
      const key = await fails(['whitelist', 'rotate-certs', '--config-dir', n.configDir])
      expect(key.stderr).to.equal(
        `error: the CA key ${caKey} is not a PEM private key: make new ones with "whitelist disable" and "whitelist enable"\n`,
      )
    })

    it('whitelist enable --policy: a policy file that is not YAML', async () => {
      const policy = write('wl-policy.yaml', `allowedRegistries: ["docker.io\\${CANARY}"]\n`)
      await fails(['whitelist', 'enable', ...node('wl1').flags, '--policy', policy, '--dry-run=client'])
    })

    it('whitelist enable --mode vap --policy: a secret where a list belongs', async () => {
      // Unknown keys are named, as kubectl names unknown fields; values never are.
      const policy = write('wl-vap-policy.yaml', `allowedRegistries: {password: ${CANARY}}\nexemptImages: ${CANARY}\n`)
      await fails(['whitelist', 'enable', '--mode', 'vap', '--policy', policy, '--dry-run=client'])
    })

    it('whitelist enable --webhook-ca: a file that is not a certificate', async () => {
      const ca = write('wl-ca.pem', `-----BEGIN CERTIFICATE-----\n${CANARY}\n-----END CERTIFICATE-----\n`)
      await fails([
        'whitelist',
        'enable',
        ...node('wl2').flags,
        '--backend-placement',
        'external',
        '--webhook-url',
        'https://127.0.0.1:1/image_policy',
        '--webhook-ca',
        ca,
        '--allowed-registries',
        'docker.io',
      ])
    })

    it('whitelist status and disable: a state file that is not JSON', async () => {
      const n = node('wl3')
      mkdirSync(n.configDir, {recursive: true})
      writeFileSync(path.join(n.configDir, 'state.json'), `{"manifest": "${CANARY}`)
      await fails(['whitelist', 'disable', ...n.flags])
      const status = await runCli(['whitelist', 'status', ...n.flags])
      expectNoCanary(status)
    })

    it('whitelist add-registry: a policy file in the config dir that is not YAML', async () => {
      const n = node('wl4')
      mkdirSync(path.join(n.configDir, 'backend'), {recursive: true})
      writeFileSync(path.join(n.configDir, 'backend', 'policy.yaml'), `allowedRegistries: ["${CANARY}\\q"]\n`)
      await fails(['whitelist', 'add-registry', 'registry.example.com', '--config-dir', n.configDir])
    })
  })

  // Last: mocha runs a suite's own tests before its nested suites.
  describe('the transcript', () =>
    it('the canary appears in no output of any run above', () => {
      const runs = cliTranscript.filter(
        (run) =>
          run.args.some((arg) => arg.startsWith(dir)) ||
          run.args.includes('--kubeconfig') ||
          run.args.includes('--verify') ||
          run.args.includes('-n'),
      )
      expect(runs.length).to.be.greaterThan(60)
      for (const run of cliTranscript) {
        expect(run.stdout, `stdout of ${run.args.join(' ')}`).not.to.contain(CANARY)
        expect(run.stderr, `stderr of ${run.args.join(' ')}`).not.to.contain(CANARY)
      }
    }))
})

import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {ROOT, runCli} from '../support/cli.js'

// Issue 12: an API server that accepts the connection and never answers (a black-holed load
// balancer, a stuck proxy) must not hang a command: each gives up within --request-timeout with
// one line naming the server and the call.

/** Accepts TCP connections and never writes a byte (so the TLS handshake never completes). */
async function silentServer(): Promise<{port: number; sockets: net.Socket[]; close(): Promise<void>}> {
  const sockets: net.Socket[] = []
  const server = net.createServer((socket) => {
    sockets.push(socket)
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

function kubeconfigFor(port: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-timeout-'))
  const file = path.join(dir, 'config')
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: silent
  cluster:
    server: https://127.0.0.1:${port}
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    token: canary-T0ken-never-shown
contexts:
- name: silent
  context: {cluster: silent, user: u, namespace: team-a}
current-context: silent
`,
  )
  return file
}

describe('a server that accepts and never answers: every cluster command gives up (--request-timeout)', function () {
  this.timeout(30_000)
  let server: Awaited<ReturnType<typeof silentServer>>
  let kubeconfig: string
  let node: string

  before(async () => {
    server = await silentServer()
    kubeconfig = kubeconfigFor(server.port)
    node = mkdtempSync(path.join(tmpdir(), 'imgsec-timeout-node-'))
    const {copyFileSync, mkdirSync} = await import('node:fs')
    mkdirSync(path.join(node, 'manifests'))
    copyFileSync(
      path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml'),
      path.join(node, 'manifests', 'kube-apiserver.yaml'),
    )
  })

  after(async () => {
    await server.close()
  })

  const cases: Array<{name: string; args: () => string[]; call: RegExp}> = [
    {
      name: 'create-regcred',
      args: () => [
        'create-regcred',
        'regcred',
        '--docker-server',
        'registry.example.com',
        '--docker-username',
        'ci',
        '--docker-password',
        'canary-Pa55',
        '--no-verify',
      ],
      call: /\(create secrets "regcred" in namespace "team-a"\)/,
    },
    {
      name: 'create-regcred -A (lists namespaces first)',
      args: () => [
        'create-regcred',
        'regcred',
        '--docker-server',
        'registry.example.com',
        '--docker-username',
        'ci',
        '--docker-password',
        'canary-Pa55',
        '--no-verify',
        '-A',
      ],
      call: /\(list namespaces\)/,
    },
    {
      name: 'audit images',
      args: () => ['audit', 'images'],
      call: /\(list [a-z]+ in namespace "team-a"\)/,
    },
    {
      name: 'audit images -A',
      args: () => ['audit', 'images', '-A'],
      call: /\(list [a-z]+\)/,
    },
    {
      name: 'whitelist enable --mode vap',
      args: () => ['whitelist', 'enable', '--mode', 'vap', '--allowed-registries', 'docker.io'],
      call: /\(get version\)/,
    },
    {
      name: 'whitelist status --mode vap',
      args: () => ['whitelist', 'status', '--mode', 'vap'],
      call: /\(get validatingadmissionpolicies "imgsec-image-policy"\)/,
    },
    {
      name: 'whitelist add-registry --mode vap',
      args: () => ['whitelist', 'add-registry', '--mode', 'vap', 'registry.example.com'],
      call: /\(get configmaps "imgsec-allowed-registries" in namespace "kube-system"\)/,
    },
    {
      name: 'whitelist remove-registry --mode vap',
      args: () => ['whitelist', 'remove-registry', '--mode', 'vap', 'registry.example.com'],
      call: /\(get configmaps "imgsec-allowed-registries" in namespace "kube-system"\)/,
    },
    {
      name: 'whitelist disable --mode vap',
      args: () => ['whitelist', 'disable', '--mode', 'vap'],
      call: /\(delete validatingadmissionpolicybindings "imgsec-image-policy"\)/,
    },
    {
      name: 'patch-apiserver --wait (connects before writing)',
      args: () => [
        'patch-apiserver',
        '--manifest',
        path.join(node, 'manifests', 'kube-apiserver.yaml'),
        '--backup-dir',
        path.join(node, 'backups'),
        '--enable-plugins',
        'AlwaysPullImages',
        '--wait',
      ],
      call: /\(list pods in namespace "kube-system"\)/,
    },
  ]

  for (const testCase of cases) {
    it(`${testCase.name}: one error line within the timeout, nothing secret`, async () => {
      const started = Date.now()
      const result = await runCli([...testCase.args(), '--kubeconfig', kubeconfig, '--request-timeout', '1s'])
      const elapsed = Date.now() - started
      expect(result.code, result.stderr).to.equal(1)
      expect(elapsed).to.be.lessThan(8000)
      const lines = result.stderr.trim().split('\n')
      expect(lines).to.have.length(1)
      expect(lines[0]).to.match(
        new RegExp(
          `^error: (namespace "team-a": )?the Kubernetes API server https://127\\.0\\.0\\.1:${server.port} did not answer within 1s `,
        ),
      )
      expect(lines[0]).to.match(testCase.call)
      expect(lines[0]).to.include('--request-timeout')
      expect(result.stdout + result.stderr).not.to.include('canary')
    })
  }

  it("create-regcred's registry login check gives up within --request-timeout too, naming the registry and the way out", async () => {
    const started = Date.now()
    const result = await runCli([
      'create-regcred',
      'regcred',
      '--docker-server',
      `https://127.0.0.1:${server.port}`,
      '--docker-username',
      'ci',
      '--docker-password',
      'canary-Pa55',
      '--verify',
      '--dry-run=client',
      '--kubeconfig',
      kubeconfig,
      '--request-timeout',
      '1s',
    ])
    expect(Date.now() - started).to.be.lessThan(8000)
    expect(result.code).to.equal(1)
    expect(result.stderr).to.equal(
      `error: the registry at https://127.0.0.1:${server.port} did not answer within 1s (--request-timeout); check --docker-server, or skip the check with --no-verify\n`,
    )
    expect(result.stdout).to.equal('')
  })

  it('patch-apiserver --wait wrote nothing when it could not connect', async () => {
    const {readFileSync} = await import('node:fs')
    const original = readFileSync(path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml'), 'utf8')
    expect(readFileSync(path.join(node, 'manifests', 'kube-apiserver.yaml'), 'utf8')).to.equal(original)
  })

  it("--request-timeout takes kubectl's forms and refuses others naming the flag", async () => {
    const bad = await runCli([
      'create-regcred',
      'x',
      '--docker-username',
      'u',
      '--docker-password',
      'p',
      '--no-verify',
      '--kubeconfig',
      kubeconfig,
      '--request-timeout',
      'soon',
    ])
    expect(bad.code).to.equal(1)
    expect(bad.stderr).to.equal('error: --request-timeout "soon" is not a duration; use e.g. 90s, 5m or 1m30s\n')
    const seconds = await runCli([
      'create-regcred',
      'x',
      '--docker-username',
      'u',
      '--docker-password',
      'p',
      '--no-verify',
      '--kubeconfig',
      kubeconfig,
      '--request-timeout',
      '1',
    ])
    expect(seconds.stderr).to.include('did not answer within 1s')
  })
})

// A real control plane for tests, the way controller-runtime's envtest runs one: etcd and
// kube-apiserver (and, when asked, kube-controller-manager) as local processes on loopback.
//
// kube-apiserver runs the command of a kubeadm static pod manifest — by default the kubeadm 1.32
// fixture, or any manifest a test has patched — as the kubelet would: its flags as written, with
// /etc/kubernetes/ mapped to DIR/etc/kubernetes/ (where a kubeadm-layout PKI is generated) and
// only the addresses and ports changed to loopback ones. So a flag or plugin the tool writes into
// a manifest is judged by the real binary.
import {type ChildProcess, spawn} from 'node:child_process'
import {chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync} from 'node:fs'
import {request} from 'node:https'
import {connect} from 'node:net'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {type CliResult, KUBECTL, ROOT, runProgram} from '../support/cli.js'
import {freePort} from '../support/registry.js'
import {createTestCa, type TestCa} from '../support/tls.js'
import {type Binaries, findBinaries} from './binaries.js'

export const DEFAULT_MANIFEST = path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml')

export interface ApiserverStart {
  /** The static pod manifest whose kube-apiserver command runs (default: the kubeadm fixture). */
  manifest?: string
  /** Appended to the manifest's flags; for a single-valued flag the last value wins. */
  extraArgs?: string[]
}

export interface StartOptions extends ApiserverStart {
  /** The node's root: DIR/etc/kubernetes/pki, DIR/var/lib/etcd, DIR/logs, DIR/kubeconfig, DIR/pids. */
  dir: string
  controllerManager?: boolean
  /** Processes outlive this one (npm run k8s:up); otherwise they end with it. */
  detached?: boolean
  /** How long kube-apiserver may take to report /readyz (default 90 s). */
  readyTimeoutMs?: number
}

export class ApiserverStartError extends Error {
  constructor(
    message: string,
    readonly log: string,
    readonly exitCode: number | null,
  ) {
    super(message)
  }
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

function tail(file: string, lines = 30): string {
  if (!existsSync(file)) return ''
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
}

/** The kube-apiserver container's command and args, without the program name. */
export function manifestApiserverFlags(manifestText: string): string[] {
  const pod = parseYaml(manifestText) as {
    spec?: {containers?: Array<{name?: string; command?: string[]; args?: string[]}>}
  }
  const containers = pod?.spec?.containers ?? []
  const container = containers.find((c) => c.name === 'kube-apiserver') ?? containers[0]
  if (!container) throw new Error('the manifest has no container')
  const [program, ...rest] = container.command ?? []
  if (program && !program.endsWith('kube-apiserver'))
    throw new Error(`the manifest runs ${program}, not kube-apiserver`)
  return [...rest, ...(container.args ?? [])]
}

/**
 * The flags as the kubelet would pass them on this test node: files under /etc/kubernetes/ are
 * looked up under `root`, and the addresses and ports are loopback ones.
 */
export function localizeApiserverFlags(flags: string[], root: string, overrides: Record<string, string>): string[] {
  const seen = new Set<string>()
  const out = flags.map((flag) => {
    const match = /^--([^=]+)=(.*)$/s.exec(flag)
    if (!match) return flag
    const [, name, value] = match
    seen.add(name)
    if (name in overrides) return `--${name}=${overrides[name]}`
    return `--${name}=${value.replace(/(^|[=,])\/etc\/kubernetes\//g, `$1${root}/etc/kubernetes/`)}`
  })
  for (const [name, value] of Object.entries(overrides)) if (!seen.has(name)) out.push(`--${name}=${value}`)
  return out
}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`exited with ${child.exitCode}`))
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve()
      })
      socket.once('error', () => {
        socket.destroy()
        if (Date.now() > deadline) reject(new Error(`port ${port} not open after ${timeoutMs} ms`))
        else setTimeout(attempt, 100)
      })
    }
    attempt()
  })
}

export interface TlsIdentity {
  ca: string
  cert: string
  key: string
}

/** GET a path of the API server with a client certificate; resolves with status and body. */
export function apiGet(
  server: string,
  identity: TlsIdentity,
  pathname: string,
  timeoutMs = 5000,
): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(pathname, server),
      {ca: identity.ca, cert: identity.cert, key: identity.key, timeout: timeoutMs},
      (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({status: res.statusCode ?? 0, body}))
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

function kubeconfigYaml(server: string, caFile: string, user: string, certFile: string, keyFile: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: imgsec-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caFile}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate: ${certFile}`,
    `    client-key: ${keyFile}`,
    'contexts:',
    `- name: ${user}@imgsec-test`,
    '  context:',
    '    cluster: imgsec-test',
    `    user: ${user}`,
    '    namespace: default',
    `current-context: ${user}@imgsec-test`,
    '',
  ].join('\n')
}

/** kubeadm's PKI layout under ROOT/etc/kubernetes/pki, for loopback. */
async function createPki(pki: string): Promise<{ca: TestCa}> {
  const alreadyThere = existsSync(path.join(pki, 'apiserver.crt'))
  mkdirSync(path.join(pki, 'etcd'), {recursive: true})
  mkdirSync(path.join(pki, 'front-proxy'), {recursive: true})
  const ca = await createTestCa(pki, {reuse: true})
  if (alreadyThere) return {ca}
  const etcdCa = await createTestCa(path.join(pki, 'etcd'))
  const frontProxyCa = await createTestCa(path.join(pki, 'front-proxy'))
  const loopback = {
    dnsNames: [
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ],
    ipAddresses: ['127.0.0.1'],
  }
  await ca.issue({cn: 'kube-apiserver', ...loopback, file: 'apiserver'})
  await ca.issue({
    cn: 'kube-apiserver-kubelet-client',
    organizations: ['kubeadm:cluster-admins'],
    file: 'apiserver-kubelet-client',
  })
  await ca.issue({cn: 'kubernetes-admin', organizations: ['system:masters'], file: 'admin'})
  await ca.issue({cn: 'system:kube-controller-manager', file: 'controller-manager'})
  await etcdCa.issue({cn: 'etcd-server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], file: 'server'})
  await etcdCa.issue({cn: 'kube-apiserver-etcd-client', file: '../apiserver-etcd-client'})
  await frontProxyCa.issue({cn: 'front-proxy-client', file: '../front-proxy-client'})
  copyFileSync(path.join(pki, 'front-proxy', 'ca.crt'), path.join(pki, 'front-proxy-ca.crt'))
  copyFileSync(path.join(pki, 'front-proxy', 'ca.key'), path.join(pki, 'front-proxy-ca.key'))
  // Service-account token signing keys (kubeadm: sa.key, sa.pub).
  const {generateKeyPairSync} = await import('node:crypto')
  const {privateKey, publicKey} = generateKeyPairSync('rsa', {modulusLength: 2048})
  writeFileSync(path.join(pki, 'sa.key'), privateKey.export({type: 'pkcs8', format: 'pem'}), {mode: 0o600})
  writeFileSync(path.join(pki, 'sa.pub'), publicKey.export({type: 'spki', format: 'pem'}))
  return {ca}
}

export class ControlPlane {
  readonly pki: string
  readonly kubeconfig: string
  readonly caFile: string
  server = ''
  private etcdUrl = ''
  private apiserver?: ChildProcess
  private readonly others: ChildProcess[] = []
  private apiserverRuns = 0
  private port = 0
  private lastApiserverArgs: string[] = []

  private constructor(
    readonly dir: string,
    readonly binaries: Binaries,
    private readonly ca: TestCa,
    private readonly detached: boolean,
    private readonly readyTimeoutMs: number,
  ) {
    this.pki = path.join(dir, 'etc', 'kubernetes', 'pki')
    this.kubeconfig = path.join(dir, 'kubeconfig')
    this.caFile = path.join(this.pki, 'ca.crt')
  }

  /** Start etcd and kube-apiserver (and kube-controller-manager) in `options.dir`; resolves once /readyz is ok. */
  static async start(options: StartOptions): Promise<ControlPlane> {
    const binaries = findBinaries()
    if (!binaries) throw new Error('the real control-plane binaries are not built: run npm run k8s:build')
    const dir = path.resolve(options.dir)
    mkdirSync(path.join(dir, 'logs'), {recursive: true})
    const {ca} = await createPki(path.join(dir, 'etc', 'kubernetes', 'pki'))
    const plane = new ControlPlane(dir, binaries, ca, options.detached ?? false, options.readyTimeoutMs ?? 90_000)
    try {
      await plane.startEtcd()
      await plane.startApiserver(options)
      if (options.controllerManager) await plane.startControllerManager()
    } catch (error) {
      await plane.stop()
      throw error
    }
    return plane
  }

  get admin(): TlsIdentity {
    return {
      ca: readFileSync(this.caFile, 'utf8'),
      cert: readFileSync(path.join(this.pki, 'admin.crt'), 'utf8'),
      key: readFileSync(path.join(this.pki, 'admin.key'), 'utf8'),
    }
  }

  /** The flags the running kube-apiserver was started with. */
  get apiserverArgs(): string[] {
    return [...this.lastApiserverArgs]
  }

  private spawnLogged(name: string, file: string, args: string[]): ChildProcess {
    const logFile = path.join(this.dir, 'logs', `${name}.log`)
    const fd = openSync(logFile, 'a')
    const child = spawn(file, args, {stdio: ['ignore', fd, fd], detached: this.detached})
    closeSync(fd)
    if (this.detached) child.unref()
    else {
      live.add(child)
      child.once('exit', () => live.delete(child))
    }
    this.writePids([child])
    return child
  }

  private writePids(added: ChildProcess[]): void {
    const file = path.join(this.dir, 'pids')
    const existing = existsSync(file) ? readFileSync(file, 'utf8') : ''
    writeFileSync(file, existing + added.map((child) => `${child.pid}\n`).join(''))
  }

  private async startEtcd(): Promise<void> {
    const [clientPort, peerPort] = [await freePort(), await freePort()]
    this.etcdUrl = `https://127.0.0.1:${clientPort}`
    const peer = `http://127.0.0.1:${peerPort}`
    const etcdPki = path.join(this.pki, 'etcd')
    const etcd = this.spawnLogged('etcd', this.binaries.paths.etcd, [
      '--name=node',
      `--data-dir=${path.join(this.dir, 'var', 'lib', 'etcd')}`,
      `--listen-client-urls=${this.etcdUrl}`,
      `--advertise-client-urls=${this.etcdUrl}`,
      `--cert-file=${path.join(etcdPki, 'server.crt')}`,
      `--key-file=${path.join(etcdPki, 'server.key')}`,
      `--trusted-ca-file=${path.join(etcdPki, 'ca.crt')}`,
      '--client-cert-auth=true',
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=node=${peer}`,
      // Test data: durability is not needed, speed is (envtest does the same).
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ])
    this.others.push(etcd)
    try {
      await waitForPort(clientPort, etcd, 30_000)
    } catch (error) {
      throw new Error(
        `etcd did not start (${(error as Error).message}):\n${tail(path.join(this.dir, 'logs', 'etcd.log'))}`,
      )
    }
  }

  /**
   * (Re)start kube-apiserver with a manifest's command. Rejects with ApiserverStartError (and the
   * log's end) when the binary exits or /readyz does not become ok.
   */
  async startApiserver(options: ApiserverStart = {}): Promise<void> {
    await this.stopApiserver()
    // A restart keeps the port, as the kubelet's restart of a static pod does: kubeconfigs stay valid.
    this.port ||= await freePort()
    const port = this.port
    const manifest = readFileSync(options.manifest ?? DEFAULT_MANIFEST, 'utf8')
    const args = [
      ...localizeApiserverFlags(manifestApiserverFlags(manifest), this.dir, {
        'advertise-address': '127.0.0.1',
        'bind-address': '127.0.0.1',
        'secure-port': String(port),
        'etcd-servers': this.etcdUrl,
        // The endpoint reconciler refuses a loopback advertise address; no Service routes here anyway.
        'endpoint-reconciler-type': 'none',
      }),
      ...(options.extraArgs ?? []),
    ]
    this.lastApiserverArgs = args
    this.server = `https://127.0.0.1:${port}`
    const name = `kube-apiserver${this.apiserverRuns++ === 0 ? '' : `.${this.apiserverRuns}`}`
    const logFile = path.join(this.dir, 'logs', `${name}.log`)
    const child = this.spawnLogged(name, this.binaries.paths['kube-apiserver'], args)
    this.apiserver = child
    const deadline = Date.now() + this.readyTimeoutMs
    const admin = this.admin
    for (;;) {
      if (child.exitCode !== null || child.signalCode) {
        throw new ApiserverStartError(
          `kube-apiserver exited with ${child.exitCode ?? child.signalCode}`,
          tail(logFile),
          child.exitCode,
        )
      }
      const ready = await apiGet(this.server, admin, '/readyz', 2000).catch(() => undefined)
      if (ready?.status === 200) break
      if (Date.now() > deadline) {
        await this.stopApiserver()
        throw new ApiserverStartError(
          `kube-apiserver not ready after ${this.readyTimeoutMs} ms (last /readyz: ${ready ? `${ready.status} ${ready.body.slice(0, 500)}` : 'no answer'})`,
          tail(logFile),
          null,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    writeFileSync(
      this.kubeconfig,
      kubeconfigYaml(
        this.server,
        this.caFile,
        'kubernetes-admin',
        path.join(this.pki, 'admin.crt'),
        path.join(this.pki, 'admin.key'),
      ),
      {mode: 0o600},
    )
  }

  async stopApiserver(): Promise<void> {
    const child = this.apiserver
    this.apiserver = undefined
    if (child) await stopProcess(child)
  }

  private async startControllerManager(): Promise<void> {
    const kubeconfig = path.join(this.dir, 'controller-manager.kubeconfig')
    writeFileSync(
      kubeconfig,
      kubeconfigYaml(
        this.server,
        this.caFile,
        'system:kube-controller-manager',
        path.join(this.pki, 'controller-manager.crt'),
        path.join(this.pki, 'controller-manager.key'),
      ),
      {mode: 0o600},
    )
    const child = this.spawnLogged('kube-controller-manager', this.binaries.paths['kube-controller-manager'], [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${path.join(this.pki, 'sa.key')}`,
      `--root-ca-file=${this.caFile}`,
      `--cluster-signing-cert-file=${this.caFile}`,
      `--cluster-signing-key-file=${path.join(this.pki, 'ca.key')}`,
      '--use-service-account-credentials=true',
      '--controllers=*,bootstrapsigner,tokencleaner',
    ])
    this.others.push(child)
  }

  /**
   * A kubeconfig for `user` (in `groups`) with no rights beyond what RBAC grants them: the 403 paths.
   */
  async userKubeconfig(user: string, groups: string[] = []): Promise<string> {
    const file = `user-${user.replace(/[^A-Za-z0-9_-]/g, '_')}`
    const issued = await this.ca.issue({cn: user, organizations: groups, file})
    const kubeconfig = path.join(this.dir, `${file}.kubeconfig`)
    writeFileSync(kubeconfig, kubeconfigYaml(this.server, this.caFile, user, issued.certFile, issued.keyFile), {
      mode: 0o600,
    })
    chmodSync(issued.keyFile, 0o600)
    return kubeconfig
  }

  /** The real kubectl against this control plane (as cluster-admin unless `kubeconfig` says otherwise). */
  kubectl(args: string[], options: {input?: string; kubeconfig?: string} = {}): Promise<CliResult> {
    return runProgram(KUBECTL, args, {env: {KUBECONFIG: options.kubeconfig ?? this.kubeconfig}, input: options.input})
  }

  async stop(): Promise<void> {
    await this.stopApiserver()
    for (const child of this.others.splice(0).reverse()) await stopProcess(child)
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

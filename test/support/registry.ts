// Runs a real distribution (docker-registry v2) process for tests, so registry
// clients are exercised against the genuine protocol, auth challenges and TLS
// rather than against a mock that agrees with our own assumptions.
import {type ChildProcess, execFile, spawn} from 'node:child_process'
import {createHash, randomBytes, sign as cryptoSign} from 'node:crypto'
import {rmSync, statSync} from 'node:fs'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import * as http from 'node:http'
import * as https from 'node:https'
import {createServer as createNetServer} from 'node:net'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'
import {promisify} from 'node:util'
import {gzipSync} from 'node:zlib'

import {createTestCa, type IssuedCert, type TestCa} from './tls.js'

const execFileAsync = promisify(execFile)

export interface RegistryOptions {
  tls?: boolean
  /** htpasswd (or token-server) users; none and no `auth` = anonymous registry */
  users?: Record<string, string>
  /** defaults to 'basic' when users are given */
  auth?: 'basic' | 'token'
  /** how long to wait for GET /v2/ to answer; default 15 s */
  startTimeoutMs?: number
}

export interface Credentials {
  username: string
  password: string
}

export interface PushOptions {
  /** manifest flavour; default 'docker' (v2 schema2) */
  format?: 'docker' | 'oci'
}

export interface PushContent {
  blobs: Buffer[]
  manifest: Buffer
  mediaType: string
}

export interface PushedImage {
  digest: string
  mediaType: string
}

export interface RunningRegistry {
  readonly host: string
  readonly url: string
  readonly caFile?: string
  readonly caPem?: string
  readonly dir: string
  readonly pid: number | undefined
  /** token mode only: the token endpoint advertised in the Bearer challenge */
  readonly tokenRealm?: string
  /** token mode only: the `service` the registry expects tokens for */
  readonly tokenService?: string
  pushImage(repository: string, tag: string, credentials?: Credentials, options?: PushOptions): Promise<PushedImage>
  /** Push blobs the test built (layers, configs), then a manifest or index under `reference` (a tag or digest). */
  pushContent(
    repository: string,
    reference: string,
    content: PushContent,
    credentials?: Credentials,
  ): Promise<PushedImage>
  /** Upload blobs (skipping those present), then put a manifest under a tag or digest; returns its digest. */
  pushManifest(
    repository: string,
    reference: string,
    manifest: {bytes: Buffer; mediaType: string; blobs?: Buffer[]},
    credentials?: Credentials,
  ): Promise<string>
  /** GET a manifest as stored (for tests that copy or tamper with one). */
  getManifest(repository: string, reference: string, credentials?: Credentials): Promise<HttpResponse>
  getBlob(repository: string, digest: string, credentials?: Credentials): Promise<Buffer>
  logs(): string
  stop(): Promise<void>
}

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const

/** Accept header that lets the registry return either manifest flavour as pushed (no schema1 down-conversion). */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.ociManifest,
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ')

// ---------------------------------------------------------------------------
// HTTP helper. node:http/https rather than fetch: Node 20's fetch cannot take a
// per-request CA without importing undici, and one code path for http and
// https keeps plain and TLS registries behaving identically in tests.

export interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  text(): string
  json<T = unknown>(): T
}

export interface RequestOptions {
  method?: string
  headers?: Record<string, string>
  body?: Buffer | string
  /** PEM CA bundle to trust instead of the default roots (https only) */
  ca?: string
  timeoutMs?: number
}

export function request(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url)
  const isHttps = target.protocol === 'https:'
  const body = options.body === undefined ? undefined : Buffer.from(options.body)
  const headers: Record<string, string> = {...options.headers}
  if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
    headers['Content-Length'] = String(body.length)
  }
  return new Promise((resolve, reject) => {
    const requestOptions: https.RequestOptions = {
      method: options.method ?? 'GET',
      headers,
      // No keep-alive: idle sockets to a stopped registry would otherwise
      // linger and keep the test process alive.
      agent: false,
      ...(isHttps && options.ca !== undefined ? {ca: options.ca} : {}),
    }
    const req = (isHttps ? https : http).request(target, requestOptions, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const data = Buffer.concat(chunks)
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: data,
          text: () => data.toString('utf8'),
          json: <T>() => JSON.parse(data.toString('utf8')) as T,
        })
      })
    })
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error(`request to ${url} timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}

/** A docker config.json with one login: `server` → `username`:`password`. */
export function dockerConfigJson(server: string, username: string, password: string): string {
  return JSON.stringify({auths: {[server]: {auth: Buffer.from(`${username}:${password}`).toString('base64')}}})
}

export function basicAuthHeader(username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64')
}

/** Parses `Bearer realm="..",service="..",scope=".."` (or Basic) into scheme + params. */
export function parseChallenge(
  header: string | undefined,
): {scheme: string; params: Record<string, string>} | undefined {
  if (!header) return undefined
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header)
  if (!m) return undefined
  const params: Record<string, string> = {}
  for (const p of m[2].matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]
  }
  return {scheme: m[1].toLowerCase(), params}
}

// ---------------------------------------------------------------------------
// Process bookkeeping: registries must never outlive the test run, even when a
// test forgets stop() or mocha exits via process.exit().

const liveChildren = new Set<ChildProcess>()
const liveDirs = new Set<string>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
    for (const dir of liveDirs) rmSync(dir, {recursive: true, force: true})
  })
}

/**
 * For a suite that needs the real docker-registry: skips it, saying so loudly, where it is not
 * installed; under CI (which installs it) its absence fails the suite instead of skipping it.
 */
export function requireRegistry(context: Mocha.Context, what: string): void {
  if (registryBinary()) return
  const install = 'apt-get install docker-registry apache2-utils'
  if (process.env.CI) throw new Error(`docker-registry is not installed, and CI must run ${what} (${install})`)
  console.warn(`SKIPPING ${what}: docker-registry is not installed (${install})`)
  context.skip()
}

export function registryBinary(): string | undefined {
  const override = process.env.IMGSEC_TEST_REGISTRY_BIN
  if (override) return isExecutableFile(override) ? override : undefined
  const candidates = [
    '/usr/bin/docker-registry',
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, 'docker-registry')),
  ]
  return candidates.find(isExecutableFile)
}

function isExecutableFile(path: string): boolean {
  try {
    const st = statSync(path)
    return st.isFile() && (st.mode & 0o111) !== 0
  } catch {
    return false
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => (port ? resolve(port) : reject(new Error('could not determine a free port'))))
    })
  })
}

// ---------------------------------------------------------------------------
// Image content: a deterministic single-layer image whose bytes depend on
// repository:tag, so different pushes get different digests but re-pushing the
// same name is idempotent.

function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex')
}

function tarFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512)
  const put = (value: string, offset: number, length: number) => header.write(value, offset, length, 'ascii')
  const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0') + '\0'
  put(name, 0, 100)
  put(octal(0o644, 8), 100, 8)
  put(octal(0, 8), 108, 8)
  put(octal(0, 8), 116, 8)
  put(octal(content.length, 12), 124, 12)
  put(octal(0, 12), 136, 12)
  put('        ', 148, 8) // checksum is computed with this field as spaces
  put('0', 156, 1)
  put('ustar\0', 257, 6)
  put('00', 263, 2)
  let sum = 0
  for (const byte of header) sum += byte
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8)
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512)
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)])
}

interface ImageParts {
  layer: Buffer
  config: Buffer
  manifest: Buffer
  mediaType: string
}

function buildImage(repository: string, tag: string, format: 'docker' | 'oci'): ImageParts {
  const tar = tarFile('hello.txt', Buffer.from(`kubectl-imgsec test image ${repository}:${tag}\n`))
  const layer = gzipSync(tar)
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: {Cmd: ['/hello.txt'], Labels: {'org.opencontainers.image.title': `${repository}:${tag}`}},
      rootfs: {type: 'layers', diff_ids: [sha256(tar)]},
      history: [{created: '1970-01-01T00:00:00Z', created_by: 'kubectl-imgsec test harness'}],
    }),
  )
  const docker = format === 'docker'
  const mediaType = docker ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.ociManifest
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: docker ? MEDIA_TYPES.dockerConfig : MEDIA_TYPES.ociConfig,
        size: config.length,
        digest: sha256(config),
      },
      layers: [
        {mediaType: docker ? MEDIA_TYPES.dockerLayer : MEDIA_TYPES.ociLayer, size: layer.length, digest: sha256(layer)},
      ],
    }),
  )
  return {layer, config, manifest, mediaType}
}

// ---------------------------------------------------------------------------
// Token server: the registry's `auth.token` mode delegates authentication to an
// external issuer. This minimal one grants every requested scope to any valid
// user, which is all the tests need to exercise the Bearer flow.

interface TokenServer {
  realm: string
  close(): Promise<void>
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url')
}

function pemToDerBase64(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '')
}

interface AccessEntry {
  type: string
  name: string
  actions: string[]
}

// scope = type:name:actions, where name may itself contain ':' (host:port).
function parseScopes(scopes: string[]): AccessEntry[] {
  const out: AccessEntry[] = []
  for (const scope of scopes.flatMap((s) => s.split(' ')).filter(Boolean)) {
    const first = scope.indexOf(':')
    const last = scope.lastIndexOf(':')
    if (first < 0 || last === first) continue
    out.push({
      type: scope.slice(0, first),
      name: scope.slice(first + 1, last),
      actions: scope
        .slice(last + 1)
        .split(',')
        .filter(Boolean),
    })
  }
  return out
}

function signToken(
  signer: IssuedCert,
  claims: {issuer: string; service: string; subject: string; access: AccessEntry[]},
): string {
  const now = Math.floor(Date.now() / 1000)
  // registry 2.x resolves the verification key from x5c and checks that chain
  // against auth.token.rootcertbundle.
  const header = {typ: 'JWT', alg: 'RS256', x5c: [pemToDerBase64(signer.certPem)]}
  const payload = {
    iss: claims.issuer,
    sub: claims.subject,
    // a plain string: distribution 2.8 unmarshals `aud` into a string field.
    aud: claims.service,
    exp: now + 600,
    nbf: now - 60,
    iat: now,
    jti: randomBytes(12).toString('hex'),
    access: claims.access,
  }
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`
  const signature = cryptoSign('sha256', Buffer.from(signingInput), signer.keyPem)
  return `${signingInput}.${base64url(signature)}`
}

async function startTokenServer(opts: {
  signer: IssuedCert
  tlsCert?: IssuedCert
  issuer: string
  service: string
  users: Record<string, string>
}): Promise<TokenServer> {
  const anonymousAllowed = Object.keys(opts.users).length === 0

  const authenticate = (username: string | undefined, password: string | undefined): string | undefined => {
    if (username === undefined) return anonymousAllowed ? '' : undefined
    return Object.hasOwn(opts.users, username) && opts.users[username] === password ? username : undefined
  }

  const respond = (res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) => {
    res.writeHead(status, {'Content-Type': 'application/json', ...extra})
    res.end(JSON.stringify(body))
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://token.invalid')
    if (url.pathname !== '/token') return respond(res, 404, {errors: [{code: 'NOT_FOUND'}]})
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      let username: string | undefined
      let password: string | undefined
      let scopes = url.searchParams.getAll('scope')
      let service = url.searchParams.get('service') ?? undefined
      if (req.method === 'POST') {
        // OAuth2 password grant, which containerd-based clients try first.
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
        if (form.get('grant_type') !== 'password') return respond(res, 400, {error: 'unsupported_grant_type'})
        username = form.get('username') ?? undefined
        password = form.get('password') ?? undefined
        scopes = form.getAll('scope')
        service = form.get('service') ?? service
      } else if (req.method === 'GET') {
        const auth = req.headers.authorization
        if (auth?.startsWith('Basic ')) {
          const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8')
          const colon = decoded.indexOf(':')
          username = colon < 0 ? decoded : decoded.slice(0, colon)
          password = colon < 0 ? '' : decoded.slice(colon + 1)
        }
      } else {
        return respond(res, 405, {error: 'method not allowed'}, {Allow: 'GET, POST'})
      }
      if (service !== undefined && service !== opts.service)
        return respond(res, 400, {error: 'invalid_request', error_description: `unknown service ${service}`})
      const subject = authenticate(username, password)
      if (subject === undefined) {
        return respond(
          res,
          401,
          {errors: [{code: 'UNAUTHORIZED', message: 'invalid username or password'}]},
          {'WWW-Authenticate': 'Basic realm="imgsec-test-token"'},
        )
      }
      const token = signToken(opts.signer, {
        issuer: opts.issuer,
        service: opts.service,
        subject,
        access: parseScopes(scopes),
      })
      respond(res, 200, {token, access_token: token, expires_in: 600, issued_at: new Date().toISOString()})
    })
  }

  const server = opts.tlsCert
    ? https.createServer({cert: opts.tlsCert.certPem, key: opts.tlsCert.keyPem}, handler)
    : http.createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  server.unref()
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return {
    realm: `${opts.tlsCert ? 'https' : 'http'}://127.0.0.1:${port}/token`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

// ---------------------------------------------------------------------------

function yamlString(value: string): string {
  // JSON strings are valid YAML double-quoted scalars.
  return JSON.stringify(value)
}

async function htpasswdFile(path: string, users: Record<string, string>): Promise<void> {
  const lines: string[] = []
  for (const [username, password] of Object.entries(users)) {
    if (!username || username.includes(':')) throw new Error(`invalid htpasswd user name ${JSON.stringify(username)}`)
    try {
      // registry 2.x only accepts bcrypt entries.
      const {stdout} = await execFileAsync('htpasswd', ['-Bbn', username, password])
      lines.push(stdout.trim())
    } catch (error) {
      const e = error as NodeJS.ErrnoException & {stderr?: string}
      if (e.code === 'ENOENT') throw new Error('htpasswd not found: apt-get install apache2-utils')
      throw new Error(`htpasswd failed: ${e.stderr?.trim() || e.message}`)
    }
  }
  await writeFile(path, lines.join('\n') + '\n', {mode: 0o600})
}

function registryConfig(opts: {
  dir: string
  port: number
  tls?: IssuedCert
  htpasswdPath?: string
  token?: {realm: string; service: string; issuer: string; rootCertBundle: string}
}): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    '  fields:',
    '    service: registry',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${yamlString(join(opts.dir, 'storage'))}`,
    '  delete:',
    '    enabled: true',
    // the purger is a background goroutine with nothing to do in a test run.
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${yamlString(`127.0.0.1:${opts.port}`)}`,
    `  secret: ${yamlString(randomBytes(24).toString('hex'))}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
  ]
  if (opts.tls) {
    lines.push(
      '  tls:',
      `    certificate: ${yamlString(opts.tls.certFile)}`,
      `    key: ${yamlString(opts.tls.keyFile)}`,
    )
  }
  if (opts.htpasswdPath) {
    lines.push(
      'auth:',
      '  htpasswd:',
      `    realm: ${yamlString('imgsec-test-registry')}`,
      `    path: ${yamlString(opts.htpasswdPath)}`,
    )
  } else if (opts.token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${yamlString(opts.token.realm)}`,
      `    service: ${yamlString(opts.token.service)}`,
      `    issuer: ${yamlString(opts.token.issuer)}`,
      `    rootcertbundle: ${yamlString(opts.token.rootCertBundle)}`,
    )
  }
  // No proxy, notifications, redis or reporting sections: nothing may reach
  // the network.
  return lines.join('\n') + '\n'
}

// The registry reads REGISTRY_* variables as config overrides; a developer's
// environment must not change what the tests run against.
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('REGISTRY_') || /^(https?|no|all)_proxy$/i.test(k)) continue
    env[k] = v
  }
  return env
}

const MAX_LOG_CHARS = 1_000_000

class RegistryProcess {
  private output = ''
  private exited: {code: number | null; signal: NodeJS.Signals | null} | undefined
  private readonly exitWaiters: Array<() => void> = []
  readonly child: ChildProcess

  constructor(bin: string, configPath: string, cwd: string) {
    this.child = spawn(bin, ['serve', configPath], {cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe']})
    liveChildren.add(this.child)
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString('utf8')
      if (this.output.length > MAX_LOG_CHARS) this.output = this.output.slice(-MAX_LOG_CHARS)
    }
    this.child.stdout?.on('data', collect)
    this.child.stderr?.on('data', collect)
    this.child.on('error', (err) => collect(Buffer.from(`\n[harness] spawn error: ${err.message}\n`)))
    this.child.on('exit', (code, signal) => {
      this.exited = {code, signal}
      liveChildren.delete(this.child)
      for (const w of this.exitWaiters.splice(0)) w()
    })
    // A forgotten stop() must not keep node alive; the exit hook then kills it.
    this.child.unref()
    for (const stream of [this.child.stdout, this.child.stderr])
      (stream as unknown as {unref?: () => void} | null)?.unref?.()
  }

  logs(): string {
    return this.output
  }

  get exitInfo() {
    return this.exited
  }

  waitExit(timeoutMs: number): Promise<boolean> {
    if (this.exited || this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      this.exitWaiters.push(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }

  async kill(): Promise<void> {
    if (await this.waitExit(0)) return
    this.child.kill('SIGTERM')
    if (await this.waitExit(3000)) return
    this.child.kill('SIGKILL')
    await this.waitExit(3000)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function waitUntilReady(
  proc: RegistryProcess,
  url: string,
  ca: string | undefined,
  expectedStatus: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no response yet'
  while (Date.now() < deadline) {
    if (proc.exitInfo) {
      throw new RegistryStartError(
        `docker-registry exited early (code ${proc.exitInfo.code}, signal ${proc.exitInfo.signal})`,
        proc.logs(),
      )
    }
    try {
      const res = await request(`${url}/v2/`, {ca, timeoutMs: 1000})
      if (res.status === expectedStatus) return
      last = `HTTP ${res.status}`
    } catch (error) {
      last = (error as Error).message
    }
    await sleep(100)
  }
  throw new RegistryStartError(
    `docker-registry did not answer GET ${url}/v2/ with ${expectedStatus} within ${timeoutMs} ms (last: ${last})`,
    proc.logs(),
  )
}

class RegistryStartError extends Error {
  constructor(
    message: string,
    readonly registryLogs: string,
  ) {
    super(`${message}\n--- registry logs ---\n${registryLogs.trim() || '(empty)'}\n--- end registry logs ---`)
  }
}

export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const bin = registryBinary()
  if (!bin) throw new Error('docker-registry is not installed (apt-get install docker-registry apache2-utils)')
  const users = options.users ?? {}
  const authMode = options.auth ?? (Object.keys(users).length > 0 ? 'basic' : undefined)
  if (authMode === 'basic' && Object.keys(users).length === 0) throw new Error("auth: 'basic' needs at least one user")

  installExitHook()
  const dir = await mkdtemp(join(tmpdir(), 'imgsec-registry-'))
  liveDirs.add(dir)
  let tokenServer: TokenServer | undefined
  let proc: RegistryProcess | undefined

  const cleanup = async () => {
    if (proc) await proc.kill()
    if (tokenServer) await tokenServer.close().catch(() => undefined)
    await rm(dir, {recursive: true, force: true})
    liveDirs.delete(dir)
  }

  try {
    await mkdir(join(dir, 'storage'))
    let ca: TestCa | undefined
    if (options.tls || authMode === 'token') {
      await mkdir(join(dir, 'certs'))
      ca = await createTestCa(join(dir, 'certs'))
    }
    const serverCert =
      options.tls && ca
        ? await ca.issue({cn: '127.0.0.1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1']})
        : undefined

    let htpasswdPath: string | undefined
    let token: {realm: string; service: string; issuer: string; rootCertBundle: string} | undefined
    if (authMode === 'basic') {
      htpasswdPath = join(dir, 'htpasswd')
      await htpasswdFile(htpasswdPath, users)
    } else if (authMode === 'token' && ca) {
      const signer = await ca.issue({cn: 'kubectl-imgsec test token signer'})
      const service = 'imgsec-test-registry'
      const issuer = 'imgsec-test-token-issuer'
      tokenServer = await startTokenServer({signer, tlsCert: serverCert, issuer, service, users})
      token = {realm: tokenServer.realm, service, issuer, rootCertBundle: ca.caCertFile}
    }

    const scheme = options.tls ? 'https' : 'http'
    const expectedStatus = authMode ? 401 : 200
    const configPath = join(dir, 'config.yml')
    // freePort() can race with other processes grabbing the port before the
    // registry binds it; retry a couple of times on "address already in use".
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      await writeFile(configPath, registryConfig({dir, port, tls: serverCert, htpasswdPath, token}))
      proc = new RegistryProcess(bin, configPath, dir)
      const url = `${scheme}://127.0.0.1:${port}`
      try {
        await waitUntilReady(proc, url, ca?.caCertPem, expectedStatus, options.startTimeoutMs ?? 15_000)
      } catch (error) {
        const inUse = /address already in use/i.test(proc.logs())
        await proc.kill()
        if (inUse && attempt < 3) continue
        throw error
      }
      return makeRunningRegistry({
        proc,
        url,
        host: `127.0.0.1:${port}`,
        dir,
        ca: options.tls ? ca : undefined,
        token,
        cleanup,
      })
    }
  } catch (error) {
    await cleanup()
    throw error
  }
}

function makeRunningRegistry(o: {
  proc: RegistryProcess
  url: string
  host: string
  dir: string
  ca?: TestCa
  token?: {realm: string; service: string}
  cleanup: () => Promise<void>
}): RunningRegistry {
  let stopping: Promise<void> | undefined
  const caPem = o.ca?.caCertPem

  // Sends a request, answering a 401 challenge (Basic or Bearer) once and
  // remembering the resulting Authorization header for later requests.
  const authedSession = (credentials: Credentials | undefined) => {
    let authorization: string | undefined
    const resolveChallenge = async (challengeHeader: string | undefined): Promise<string> => {
      const challenge = parseChallenge(challengeHeader)
      if (!challenge)
        throw new Error(`registry answered 401 without a usable WWW-Authenticate header (${challengeHeader ?? 'none'})`)
      if (challenge.scheme === 'basic') {
        if (!credentials) throw new Error('registry requires basic auth but pushImage got no credentials')
        return basicAuthHeader(credentials.username, credentials.password)
      }
      if (challenge.scheme === 'bearer') {
        const realm = challenge.params.realm
        if (!realm) throw new Error(`Bearer challenge without realm: ${challengeHeader}`)
        const tokenUrl = new URL(realm)
        if (challenge.params.service) tokenUrl.searchParams.set('service', challenge.params.service)
        for (const scope of (challenge.params.scope ?? '').split(' ').filter(Boolean))
          tokenUrl.searchParams.append('scope', scope)
        const res = await request(tokenUrl.toString(), {
          ca: caPem,
          headers: credentials ? {Authorization: basicAuthHeader(credentials.username, credentials.password)} : {},
        })
        if (res.status !== 200) throw new Error(`token request to ${realm} failed: HTTP ${res.status} ${res.text()}`)
        const body = res.json<{token?: string; access_token?: string}>()
        const jwt = body.token ?? body.access_token
        if (!jwt) throw new Error(`token response from ${realm} has no token`)
        return `Bearer ${jwt}`
      }
      throw new Error(`unsupported auth scheme ${challenge.scheme}`)
    }
    return async (url: string, opts: RequestOptions = {}): Promise<HttpResponse> => {
      const send = () =>
        request(url, {
          ...opts,
          ca: caPem,
          headers: {...opts.headers, ...(authorization ? {Authorization: authorization} : {})},
        })
      let res = await send()
      if (res.status === 401) {
        authorization = await resolveChallenge(res.headers['www-authenticate'])
        res = await send()
      }
      return res
    }
  }

  const fail = (what: string, res: HttpResponse): never => {
    throw new Error(`${what}: HTTP ${res.status} ${res.text().slice(0, 500)}`)
  }

  const uploadBlobs = async (
    send: ReturnType<typeof authedSession>,
    repository: string,
    blobs: Buffer[],
  ): Promise<void> => {
    const base = `${o.url}/v2/${repository}`
    for (const blob of blobs) {
      const digest = sha256(blob)
      const head = await send(`${base}/blobs/${digest}`, {method: 'HEAD'})
      if (head.status === 200) continue
      const start = await send(`${base}/blobs/uploads/`, {method: 'POST', headers: {'Content-Length': '0'}})
      if (start.status !== 202) fail(`starting blob upload to ${repository}`, start)
      const location = start.headers.location
      if (!location) throw new Error(`blob upload to ${repository}: no Location header`)
      const uploadUrl = new URL(location, o.url)
      uploadUrl.searchParams.set('digest', digest)
      const put = await send(uploadUrl.toString(), {
        method: 'PUT',
        body: blob,
        headers: {'Content-Type': 'application/octet-stream'},
      })
      if (put.status !== 201) fail(`uploading blob ${digest} to ${repository}`, put)
    }
  }

  const pushContent: RunningRegistry['pushContent'] = async (repository, reference, image, credentials) => {
    const send = authedSession(credentials)
    await uploadBlobs(send, repository, image.blobs)
    const expected = sha256(image.manifest)
    const put = await send(`${o.url}/v2/${repository}/manifests/${encodeURIComponent(reference)}`, {
      method: 'PUT',
      body: image.manifest,
      headers: {'Content-Type': image.mediaType},
    })
    if (put.status !== 201) fail(`putting manifest ${repository}:${reference}`, put)
    const digest = put.headers['docker-content-digest']
    if (typeof digest === 'string' && digest !== expected)
      throw new Error(`registry reported digest ${digest}, expected ${expected}`)
    return {digest: expected, mediaType: image.mediaType}
  }

  const pushImage = async (
    repository: string,
    tag: string,
    credentials?: Credentials,
    options: PushOptions = {},
  ): Promise<PushedImage> => {
    const image = buildImage(repository, tag, options.format ?? 'docker')
    return pushContent(
      repository,
      tag,
      {blobs: [image.layer, image.config], manifest: image.manifest, mediaType: image.mediaType},
      credentials,
    )
  }

  const pushManifest: RunningRegistry['pushManifest'] = async (repository, reference, manifest, credentials) =>
    (
      await pushContent(
        repository,
        reference,
        {blobs: manifest.blobs ?? [], manifest: manifest.bytes, mediaType: manifest.mediaType},
        credentials,
      )
    ).digest

  const getManifest: RunningRegistry['getManifest'] = (repository, reference, credentials) =>
    authedSession(credentials)(`${o.url}/v2/${repository}/manifests/${encodeURIComponent(reference)}`, {
      headers: {Accept: MANIFEST_ACCEPT},
    })

  const getBlob: RunningRegistry['getBlob'] = async (repository, digest, credentials) => {
    const res = await authedSession(credentials)(`${o.url}/v2/${repository}/blobs/${digest}`)
    if (res.status !== 200) fail(`getting blob ${digest} of ${repository}`, res)
    return res.body
  }

  return {
    host: o.host,
    url: o.url,
    pushManifest,
    getManifest,
    getBlob,
    caFile: o.ca?.caCertFile,
    caPem,
    dir: o.dir,
    pid: o.proc.child.pid,
    tokenRealm: o.token?.realm,
    tokenService: o.token?.service,
    pushImage,
    pushContent,
    logs: () => o.proc.logs(),
    stop: () => (stopping ??= o.cleanup()),
  }
}

import {createHash} from 'node:crypto'
import {readFileSync, watch, type FSWatcher} from 'node:fs'
import path from 'node:path'

import {describeSystemError, safeErrorMessage} from '../describe-error.js'
import {UserError} from '../errors.js'
import {resolvePolicy} from '../policy/policy-file.js'
import {dockerConfigFileCredentials} from '../image/docker-config.js'
import {createImageFactsGate} from './image-facts-gate.js'
import {createSignatureGate} from './signature-gate.js'
import {createWebhookServer, loadTlsMaterial, type ServerLimits} from './webhook-server.js'

/** Under the server's 15 s request limit and the API server's webhook timeout. */
export const DEFAULT_SIGNATURE_BUDGET_MS = 10_000

export interface WebhookBackendOptions {
  certFile: string
  keyFile: string
  clientCaFile?: string
  address: string
  port: number
  policyFile?: string
  allowedRegistries?: string[]
  /** Listen beyond loopback without --client-ca: anyone who reaches the port may ask. */
  allowUnauthenticated?: boolean
  log?: ((entry: Record<string, unknown>) => void) & {flush?: () => void}
  limits?: Partial<ServerLimits>
  /** Registry credentials for requireSignature (`--docker-config`). */
  dockerConfig?: string
  /** requireSignature: how long the verifications of one review may take together. */
  signatureBudgetMs?: number
  /** requireNonRootImage, forbidShell, maxImageAgeDays: how long reading the images of one review may take together. */
  imageFactsBudgetMs?: number
}

export interface RunningBackend {
  port: number
  reload(): boolean
  close(): Promise<void>
  closed: Promise<void>
}

/** The decision log: one JSON line per entry, written in batches; `flush` writes what is pending now. */
export interface JsonLog {
  (entry: Record<string, unknown>): void
  flush(): void
}

/**
 * One JSON line per entry on `stream`, written in batches: every `flushAfterMs` or at 64 KiB,
 * not one write (and one wake-up of the reader) per review. When the reader falls behind by more
 * than `maxBuffered` bytes, lines are dropped and counted instead of queued (memory would
 * otherwise grow with every review); the count is logged once the reader catches up.
 */
export function createJsonLog(
  stream: Pick<NodeJS.WritableStream, 'write'> & {writableLength: number},
  maxBuffered = 1024 * 1024,
  flushAfterMs = 20,
): JsonLog {
  let dropped = 0
  let pending: string[] = []
  let pendingBytes = 0
  let timer: NodeJS.Timeout | undefined
  // One ISO timestamp per millisecond, not one Date and toISOString per line.
  let lastMs = 0
  let lastTime = ''
  const time = () => {
    const now = Date.now()
    if (now !== lastMs) {
      lastMs = now
      lastTime = new Date(now).toISOString()
    }
    return lastTime
  }
  const flush = () => {
    clearTimeout(timer)
    timer = undefined
    if (pending.length === 0) return
    const chunk = pending.join('')
    pending = []
    pendingBytes = 0
    stream.write(chunk)
  }
  const add = (line: string) => {
    pending.push(line)
    pendingBytes += line.length
    if (pendingBytes >= 64 * 1024) flush()
    else if (!timer) {
      timer = setTimeout(flush, flushAfterMs)
      timer.unref()
    }
  }
  const log = (entry: Record<string, unknown>) => {
    if (stream.writableLength > maxBuffered) {
      dropped++
      return
    }
    if (dropped > 0) {
      add(
        JSON.stringify({
          time: time(),
          level: 'warn',
          event: 'log-lines-dropped',
          count: dropped,
          message: 'the log reader fell behind',
        }) + '\n',
      )
      dropped = 0
    }
    // The entry's own JSON after the time field: no spread copy of the entry per line.
    const fields = JSON.stringify(entry)
    add(`{"time":"${time()}"${fields === '{}' ? '}' : `,${fields.slice(1)}`}\n`)
  }
  return Object.assign(log, {flush})
}

/** True for 127.0.0.0/8, ::1 and localhost: reachable from this node only. */
function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\./.test(address)
}

/**
 * The process `webhook serve` runs: the HTTPS server, the policy, and its reload on SIGHUP or
 * when the file changes (a policy that does not validate is logged and the old one stays).
 */
/** How long in-flight answers get when the backend is told to stop (SIGTERM, SIGINT). */
const STOP_GRACE_MS = 1000

export async function startWebhookBackend(options: WebhookBackendOptions): Promise<RunningBackend> {
  if (!isLoopback(options.address) && !options.clientCaFile && !options.allowUnauthenticated) {
    throw new UserError(
      `--address ${options.address} without --client-ca would answer anyone who reaches the port: pass --client-ca (the CA of the API server's client certificate), or --address 127.0.0.1, or --allow-unauthenticated to accept that`,
    )
  }
  const log = options.log ?? createJsonLog(process.stdout)
  // Pending log lines are written before the process exits, however it exits.
  const flushLog = () => log.flush?.()
  process.on('exit', flushLog)
  // The file's digest is taken before it is parsed: a change in between shows as an old digest
  // (and the watcher's reload corrects it), never as a new digest with the old policy.
  const digestOf = () =>
    options.policyFile ? createHash('sha256').update(readFileSync(options.policyFile)).digest('hex') : undefined
  const load = () => {
    const digest = digestOf()
    const policy = resolvePolicy({policyFile: options.policyFile, allowedRegistries: options.allowedRegistries})
    return {digest, policy}
  }
  let {policy, digest: policyDigest} = load()
  const credentials = options.dockerConfig ? dockerConfigFileCredentials(options.dockerConfig) : []
  const signatureGate = createSignatureGate({
    credentials,
    budgetMs: options.signatureBudgetMs ?? DEFAULT_SIGNATURE_BUDGET_MS,
  })
  const imageFactsGate = createImageFactsGate({
    credentials,
    budgetMs: options.imageFactsBudgetMs ?? DEFAULT_SIGNATURE_BUDGET_MS,
    log,
  })
  const reload = (): boolean => {
    try {
      ;({policy, digest: policyDigest} = load())
      log({level: 'info', event: 'policy-reloaded', allowedRegistries: policy.allowedRegistries ?? 'any'})
      return true
    } catch (error) {
      log({level: 'error', event: 'policy-reload-failed', message: safeErrorMessage(error)})
      return false
    }
  }
  const server = createWebhookServer({
    certFile: options.certFile,
    keyFile: options.keyFile,
    clientCaFile: options.clientCaFile,
    policy: () => policy,
    policyDigest: () => policyDigest,
    signatureGate,
    imageFactsGate,
    log,
    limits: options.limits,
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const hint =
        error.code === 'EACCES' && options.port < 1024 ? '; ports below 1024 need root (or use --port 8443)' : ''
      reject(
        new UserError(
          `cannot listen on --address ${options.address} --port ${options.port}: ${describeSystemError(error)}${hint}`,
        ),
      )
    })
    server.listen(options.port, options.address, resolve)
  })
  const port = (server.address() as {port: number}).port
  log({
    level: 'info',
    event: 'listening',
    address: options.address,
    port,
    allowedRegistries: policy.allowedRegistries ?? 'any',
    exemptNamespaces: policy.exemptNamespaces,
  })

  // The serving certificate, its key and the client CA are swapped in without a restart, so that
  // "whitelist rotate-certs" leaves no window; a pair that does not load is logged, the old one stays.
  const reloadTls = (): boolean => {
    try {
      const tls = loadTlsMaterial(options)
      server.setSecureContext({cert: tls.cert, key: tls.key, ...(tls.ca ? {ca: tls.ca} : {})})
      log({level: 'info', event: 'tls-reloaded'})
      return true
    } catch (error) {
      log({level: 'error', event: 'tls-reload-failed', message: safeErrorMessage(error)})
      return false
    }
  }
  const reloadAll = () => {
    reload()
    reloadTls()
  }
  // Watch the directories: editors and ConfigMap updates replace files rather than write them.
  const watched = new Map<string, Set<string>>()
  for (const file of [options.policyFile, options.certFile, options.keyFile, options.clientCaFile]) {
    if (!file) continue
    const dir = path.dirname(path.resolve(file))
    watched.set(dir, new Set([...(watched.get(dir) ?? []), path.basename(file)]))
  }
  let timer: NodeJS.Timeout | undefined
  const watchers: FSWatcher[] = [...watched].map(([dir, names]) =>
    watch(dir, (_event, name) => {
      if (name !== null && !names.has(String(name)) && !String(name).startsWith('..')) return
      clearTimeout(timer)
      timer = setTimeout(reloadAll, 200)
    }),
  )
  // A policy written between the first load and the watchers would go unseen until the next
  // change (a re-run of enable writes the static pod and then the policy): look once more.
  try {
    if (options.policyFile && digestOf() !== policyDigest) reload()
  } catch {
    // Unreadable now: the watcher reports the next change; the policy loaded stays.
  }
  const onHangup = () => reloadAll()
  process.on('SIGHUP', onHangup)
  let resolveClosed: () => void
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve
  })
  const close = async () => {
    process.off('SIGHUP', onHangup)
    for (const watcher of watchers) watcher.close()
    clearTimeout(timer)
    await new Promise<void>((resolve) => server.close(() => resolve()))
    flushLog()
    process.off('exit', flushLog)
    resolveClosed()
  }
  const stop = () => {
    log({level: 'info', event: 'stopping'})
    server.closeIdleConnections()
    // A kept-alive connection that is busy now (a health probe that polls on the same socket)
    // would hold the process until the client goes away, and the kubelet would wait out the pod's
    // grace period before it starts the next one: answers in flight get a moment, then every
    // connection is closed.
    setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS).unref()
    void close()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  return {port, reload, close, closed}
}

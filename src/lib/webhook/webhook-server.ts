import {createPrivateKey, type KeyObject} from 'node:crypto'
import {createServer, type Server} from 'node:https'
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {TLSSocket} from 'node:tls'

import {UserError} from '../errors.js'
import {parsePemCertificate, pemKinds, readFlagFile} from '../pem.js'
import {decideImageReview, type ImageReviewRequest, imageReviewProblem, reviewImages} from './image-review.js'
import type {ImageFactsGate} from './image-facts-gate.js'
import type {SignatureGate} from './signature-gate.js'
import {type ImagePolicy, needsImageFacts, type PolicyViolation} from '../policy/policy.js'

export const MAX_BODY_BYTES = 1024 * 1024

export interface WebhookServerOptions {
  certFile: string
  keyFile: string
  /** Require client certificates signed by this CA (the API server's, from the webhook kubeconfig). */
  clientCaFile?: string
  /** The policy in force now (it may be reloaded between requests). */
  policy: () => ImagePolicy
  /** sha256 of the policy file in force, sent with /healthz so that a caller can see a reload happened. */
  policyDigest?: () => string | undefined
  /** One JSON object per decision or problem. */
  log: (entry: Record<string, unknown>) => void
  /** Limits (milliseconds, connections); tests shorten them. */
  limits?: Partial<ServerLimits>
  /** Verifies signatures when the policy has requireSignature. */
  signatureGate?: SignatureGate
  /** Reads image contents when the policy has requireNonRootImage, forbidShell or maxImageAgeDays. */
  imageFactsGate?: ImageFactsGate
}

/**
 * How long and how many: a slow or silent client must not hold the backend, whose failure refuses
 * every pod with defaultAllow false. The API server sends small reviews over kept-alive
 * connections and gives up itself after its webhook timeout.
 */
export interface ServerLimits {
  /** The TLS handshake. */
  handshakeMs: number
  /** All request headers. */
  headersMs: number
  /** A whole request, body included. */
  requestMs: number
  /** A connection without a valid client certificate (probes, strangers): closed after this. */
  unauthenticatedMs: number
  /** Idle kept-alive connections (above the API server's 90 s idle timeout it would close them itself). */
  keepAliveMs: number
  maxConnections: number
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  handshakeMs: 10_000,
  headersMs: 10_000,
  requestMs: 15_000,
  unauthenticatedMs: 10_000,
  keepAliveMs: 65_000,
  maxConnections: 1024,
}

/** The /healthz header naming the sha256 of the policy file the backend decides by. */
export const POLICY_DIGEST_HEADER = 'x-imgsec-policy-sha256'

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  })
  res.end(text)
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      req.resume()
      resolve('too-large')
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data')
        req.resume()
        resolve('too-large')
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
    req.on('aborted', () => reject(Object.assign(new Error('client aborted the request'), {clientAborted: true})))
  })
}

async function handle(req: IncomingMessage, res: ServerResponse, options: WebhookServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]
  // A connection without the API server's certificate is not kept alive (see createWebhookServer).
  if (options.clientCaFile && !(req.socket as TLSSocket).authorized) res.setHeader('connection', 'close')
  if (path === '/healthz' || path === '/readyz') {
    const digest = options.policyDigest?.()
    send(
      res,
      req.method === 'GET' || req.method === 'HEAD' ? 200 : 405,
      'ok',
      digest ? {[POLICY_DIGEST_HEADER]: digest} : {},
    )
    return
  }
  if (path !== '/image_policy' && path !== '/') {
    send(res, 404, {error: `no such endpoint ${path}; the ImagePolicyWebhook endpoint is POST /image_policy`})
    return
  }
  if (req.method !== 'POST') {
    send(res, 405, {error: 'POST an ImageReview (imagepolicy.k8s.io/v1alpha1)'})
    return
  }
  // Client certificates are checked here rather than in the handshake, so that the kubelet's
  // liveness probe (which presents none) can still reach /healthz.
  if (options.clientCaFile && !(req.socket as TLSSocket).authorized) {
    options.log({
      level: 'warn',
      event: 'rejected',
      status: 401,
      message: 'client certificate missing or not signed by the client CA',
    })
    send(res, 401, {error: 'a client certificate signed by the configured client CA is required'})
    return
  }
  const body = await readBody(req)
  if (body === 'too-large') {
    options.log({level: 'warn', event: 'rejected', status: 413, message: `body over ${MAX_BODY_BYTES} bytes`})
    send(res, 413, {error: `request body over ${MAX_BODY_BYTES} bytes`})
    return
  }
  let review: unknown
  try {
    review = JSON.parse(body.toString('utf8'))
  } catch {
    options.log({level: 'warn', event: 'rejected', status: 400, message: 'malformed JSON'})
    send(res, 400, {error: 'malformed JSON: expected an ImageReview'})
    return
  }
  const problem = imageReviewProblem(review)
  if (problem) {
    options.log({level: 'warn', event: 'rejected', status: 400, message: problem})
    send(res, 400, {error: problem})
    return
  }
  const policy = options.policy()
  const request = review as ImageReviewRequest
  const signing = policy.requireSignature !== undefined && options.signatureGate !== undefined
  const reading = needsImageFacts(policy) && options.imageFactsGate !== undefined
  let extra: PolicyViolation[][] | undefined
  if (signing || reading) {
    const images = reviewImages(request)
    // Side by side: each has its own budget, and the API server waits for both.
    const gated = await Promise.all([
      signing ? options.signatureGate!(images, request.spec.namespace, policy) : [],
      reading ? options.imageFactsGate!(images, request.spec.namespace, policy) : [],
    ])
    extra = images.map((_, index) => [...(gated[0][index] ?? []), ...(gated[1][index] ?? [])])
  }
  const decision = decideImageReview(request, policy, extra)
  options.log({
    level: decision.breakGlass ? 'warn' : 'info',
    event: decision.breakGlass ? 'break-glass' : 'decision',
    namespace: (review as ImageReviewRequest).spec.namespace ?? '',
    allowed: decision.response.status.allowed,
    images: decision.verdicts.map((v) => v.image),
    ...(decision.response.status.reason ? {reason: decision.response.status.reason} : {}),
  })
  send(res, 200, decision.response)
}

export interface TlsMaterial {
  cert: Buffer
  key: Buffer
  ca?: Buffer
}

function parsePrivateKey(flag: string, file: string, data: Buffer): KeyObject {
  const kinds = pemKinds(data)
  if (!kinds.privateKey) {
    throw new UserError(
      `${flag} ${file} is not a PEM private key (no "-----BEGIN PRIVATE KEY-----" block)${kinds.certificate ? '; it holds a certificate (--cert and --key swapped?)' : ''}`,
    )
  }
  if (kinds.encrypted)
    throw new UserError(
      `${flag} ${file} is encrypted with a passphrase; the backend needs an unencrypted key (openssl pkey -in ${file} -out key.pem)`,
    )
  try {
    return createPrivateKey(data)
  } catch {
    throw new UserError(`${flag} ${file}: the private key block is damaged or of an unsupported type`)
  }
}

/**
 * Read and check the serving certificate, its key and the client CA, naming the flag and the
 * problem in words (never the file's content): unreadable, not PEM, swapped, encrypted, a key that
 * does not belong to the certificate.
 */
export function loadTlsMaterial(options: {certFile: string; keyFile: string; clientCaFile?: string}): TlsMaterial {
  const cert = readFlagFile('--cert', options.certFile)
  const key = readFlagFile('--key', options.keyFile)
  const ca = options.clientCaFile ? readFlagFile('--client-ca', options.clientCaFile) : undefined
  const certificate = parsePemCertificate('--cert', options.certFile, cert, ' (--cert and --key swapped?)')
  const privateKey = parsePrivateKey('--key', options.keyFile, key)
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new UserError(`--key ${options.keyFile} is not the key of the certificate in --cert ${options.certFile}`)
  }
  if (ca && options.clientCaFile) parsePemCertificate('--client-ca', options.clientCaFile, ca)
  return {cert, key, ca}
}

/** The ImagePolicyWebhook backend: HTTPS, POST /image_policy (and /), GET /healthz. */
export function createWebhookServer(options: WebhookServerOptions): Server {
  const tls = loadTlsMaterial(options)
  const limits = {...DEFAULT_SERVER_LIMITS, ...options.limits}
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, options).catch((error: unknown) => {
      if ((error as {clientAborted?: boolean}).clientAborted || res.destroyed) {
        // The client went away (the API server's own timeout, a probe): nothing is wrong here.
        options.log({level: 'info', event: 'client-aborted'})
        return
      }
      // A bug must not take the backend down: with defaultAllow false that would block every pod.
      options.log({level: 'error', event: 'internal-error', message: (error as Error).message})
      if (!res.headersSent) send(res, 500, {error: 'internal error'})
      else res.destroy()
    })
  }
  let server: Server
  try {
    server = createServer(
      {
        cert: tls.cert,
        key: tls.key,
        handshakeTimeout: limits.handshakeMs,
        // Node enforces headersTimeout/requestTimeout only when it checks (every 30 s by default).
        connectionsCheckingInterval: Math.min(1000, Math.ceil(limits.headersMs / 2)),
        headersTimeout: limits.headersMs,
        requestTimeout: limits.requestMs,
        keepAliveTimeout: limits.keepAliveMs,
        ...(tls.ca ? {ca: tls.ca, requestCert: true, rejectUnauthorized: false} : {}),
      },
      onRequest,
    )
  } catch (error) {
    // Checked above already; what is left (an unsupported key type) is named by its code only.
    const code = (error as {code?: unknown}).code
    throw new UserError(
      `the TLS library refused --cert ${options.certFile} with --key ${options.keyFile}${typeof code === 'string' ? ` (${code})` : ''}`,
    )
  }
  server.maxConnections = limits.maxConnections
  if (tls.ca) {
    // Only the API server holds a client certificate; anyone else (the kubelet's probe) gets a
    // short connection, so idle strangers cannot use up the connection limit.
    server.on('secureConnection', (socket: TLSSocket) => {
      if (!socket.authorized) socket.setTimeout(limits.unauthenticatedMs, () => socket.destroy())
    })
  }
  return server
}

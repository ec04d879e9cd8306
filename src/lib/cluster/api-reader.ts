// A read-only API client without @kubernetes/client-node (loading it costs ~70 MiB and ~150 ms):
// plain GETs over node:https with the kubeconfig's TLS settings and credentials, for commands
// that only list (audit images). kubeconfig users it does not handle (a legacy auth-provider
// other than exec) fall back to the full client.
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import type {RequestOptions} from 'node:https'

import {describeApiError} from './api-errors.js'
import {parseRequestTimeout} from '../duration.js'
import type {ApiCall} from './kube-client.js'
import {type KubeTargetOptions, loadKubeconfig, requireServer, type ResolvedKubeconfig} from './kubeconfig.js'
import {describeCredentialError, type KubeUser} from './credential-errors.js'

/** What reading the API needs: where, how long a request may take, and each request's TLS and credentials. */
export interface ApiReader {
  config: ResolvedKubeconfig
  server: string
  /** Milliseconds each request may take (0: no limit). */
  requestTimeoutMs: number
  /** TLS options and headers of the kubeconfig's user, read per request (files and exec plugins may change). */
  requestOptions(): Promise<RequestOptions>
  /** Run one API request, turning any failure into a one-line UserError that names the call. */
  call<T>(call: ApiCall, request: () => Promise<T>): Promise<T>
}

type Entry = Record<string, any>

const fileOrData = (file: unknown, data: unknown): Buffer | undefined =>
  typeof file === 'string' && file !== ''
    ? readFileSync(file)
    : typeof data === 'string' && data !== ''
      ? Buffer.from(data, 'base64')
      : undefined

interface ExecCredential {
  status?: {token?: string; clientCertificateData?: string; clientKeyData?: string; expirationTimestamp?: string}
}

/** Run a credential plugin (kubeconfig `users[].user.exec`) and parse its ExecCredential, as client-node does. */
function runExecPlugin(exec: Entry): Promise<ExecCredential> {
  const env = Array.isArray(exec.env)
    ? {...process.env, ...Object.fromEntries(exec.env.map((e: Entry) => [e.name, e.value]))}
    : process.env
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    let failure: Error | undefined
    const child = spawn(exec.command, Array.isArray(exec.args) ? exec.args : [], {env})
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', (error) => (failure = error))
    child.on('close', (code) => {
      if (failure) reject(failure)
      // The plugin's stderr as the message, as client-node has it (describeCredentialError does not repeat it).
      else if (code !== 0) reject(new Error(stderr))
      else {
        try {
          resolve(JSON.parse(stdout) as ExecCredential)
        } catch (error) {
          reject(error)
        }
      }
    })
  })
}

/** Build the lean reader for the kubeconfig's context; undefined when its user needs the full client. */
export function createApiReader(
  options: KubeTargetOptions,
  config: ResolvedKubeconfig = loadKubeconfig(options),
): ApiReader | undefined {
  const server = requireServer(config)
  const user = (config.merged.users.find((entry) => entry.name === config.userName)?.user ?? {}) as Entry
  const cluster = (config.merged.clusters.find((entry) => entry.name === config.clusterName)?.cluster ?? {}) as Entry
  const provider = user['auth-provider'] as Entry | undefined
  if (provider && !(provider.name === 'exec' || provider.config?.exec)) return undefined
  const exec = (user.exec ?? provider?.config?.exec) as Entry | undefined
  const requestTimeoutMs = parseRequestTimeout(options.requestTimeout)
  const who: KubeUser = {name: config.userName ?? '', exec}
  // kubectl runs a plugin once per process unless its credential says when it expires.
  let cached: {credential: ExecCredential; until: number} | undefined

  const credentials = async (): Promise<RequestOptions> => {
    const opts: RequestOptions & {headers: Record<string, string>} = {headers: {}}
    if (cluster['insecure-skip-tls-verify'] === true) opts.rejectUnauthorized = false
    if (typeof cluster['tls-server-name'] === 'string') opts.servername = cluster['tls-server-name']
    const ca = fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data'])
    if (ca) opts.ca = ca
    const cert = fileOrData(user['client-certificate'], user['client-certificate-data'])
    if (cert) opts.cert = cert
    const key = fileOrData(user['client-key'], user['client-key-data'])
    if (key) opts.key = key
    if (typeof user.as === 'string') opts.headers['Impersonate-User'] = user.as
    if (exec) {
      if (!exec.command) throw new Error('No command was specified for exec authProvider!')
      if (!cached || cached.until <= Date.now()) {
        const credential = await runExecPlugin(exec)
        const expires = Date.parse(credential.status?.expirationTimestamp ?? '')
        cached = {credential, until: Number.isNaN(expires) ? Number.POSITIVE_INFINITY : expires}
      }
      const status = cached.credential.status
      if (!status) throw new TypeError('the ExecCredential has no status')
      if (status.clientCertificateData) opts.cert = status.clientCertificateData
      if (status.clientKeyData) opts.key = status.clientKeyData
      if (status.token) opts.headers.Authorization = `Bearer ${status.token}`
    }
    const tokenFile = user.tokenFile ?? user['token-file']
    const token =
      typeof user.token === 'string' && user.token !== ''
        ? user.token
        : typeof tokenFile === 'string' && tokenFile !== ''
          ? readFileSync(tokenFile, 'utf8')
          : undefined
    if (token) opts.headers.Authorization = `Bearer ${token}`
    if (user.username) opts.auth = `${user.username}:${user.password}`
    return opts
  }

  return {
    config,
    server,
    requestTimeoutMs,
    async requestOptions() {
      try {
        return await credentials()
      } catch (error) {
        throw describeCredentialError(error, who, config)
      }
    },
    async call<T>(call: ApiCall, request: () => Promise<T>): Promise<T> {
      try {
        return await request()
      } catch (error) {
        throw describeApiError(error, call, server, config.contextName, requestTimeoutMs)
      }
    },
  }
}

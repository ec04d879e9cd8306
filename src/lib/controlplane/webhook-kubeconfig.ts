import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {connect, checkServerIdentity} from 'node:tls'
import {parse as parseYaml, stringify} from 'yaml'

import {describeFailure, unreadableFile, yamlProblem} from '../describe-error.js'
import {UserError} from '../errors.js'
import {readFlagFile} from '../pem.js'

export interface WebhookKubeconfig {
  server: string
  caFile?: string
  clientCertificate?: string
  clientKey?: string
  /** Every file the kubeconfig names (absolute). */
  referencedFiles: string[]
}

/** The kubeconfig the API server uses to call the ImagePolicyWebhook backend. */
export function renderWebhookKubeconfig(options: {
  server: string
  caFile: string
  clientCertificate: string
  clientKey: string
}): string {
  return stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {name: 'image-policy-backend', cluster: {'certificate-authority': options.caFile, server: options.server}},
      ],
      users: [
        {
          name: 'kube-apiserver',
          user: {'client-certificate': options.clientCertificate, 'client-key': options.clientKey},
        },
      ],
      contexts: [{name: 'image-policy', context: {cluster: 'image-policy-backend', user: 'kube-apiserver'}}],
      'current-context': 'image-policy',
    },
    {indentSeq: false},
  )
}

/**
 * Check a webhook kubeconfig as the API server will use it: a cluster with an https server, a
 * user, contexts and a current-context that exists (the API server fails without them), and
 * absolute paths to files that exist.
 */
export function checkWebhookKubeconfig(file: string): WebhookKubeconfig {
  let doc: Record<string, any>
  try {
    doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, any>
  } catch (error) {
    // The parser's message quotes the line (a client key, a token): only where and what.
    const system = typeof (error as NodeJS.ErrnoException).syscall === 'string'
    throw new UserError(
      system
        ? unreadableFile('webhook kubeconfig', file, error)
        : `webhook kubeconfig ${file} is not valid YAML (${yamlProblem(error)})`,
    )
  }
  const problems: string[] = []
  const clusters = Array.isArray(doc?.clusters) ? doc.clusters : []
  const users = Array.isArray(doc?.users) ? doc.users : []
  const contexts = Array.isArray(doc?.contexts) ? doc.contexts : []
  if (clusters.length === 0) problems.push('no clusters')
  if (users.length === 0) problems.push('no users')
  if (contexts.length === 0)
    problems.push('no contexts (the API server needs a context, not only a cluster and a user)')
  const currentName = doc?.['current-context']
  const current = contexts.find((c: {name?: string}) => c?.name === currentName)
  if (typeof currentName !== 'string' || currentName === '') problems.push('no current-context')
  else if (!current) problems.push(`current-context "${currentName}" is not among the contexts`)
  const cluster =
    clusters.find((c: {name?: string}) => c?.name === current?.context?.cluster)?.cluster ?? clusters[0]?.cluster
  const user = users.find((u: {name?: string}) => u?.name === current?.context?.user)?.user ?? users[0]?.user
  const server = cluster?.server
  if (typeof server !== 'string' || !/^https:\/\//.test(server))
    problems.push(`cluster server must be an https:// URL, not ${JSON.stringify(server)}`)
  const files: Array<[string, unknown]> = [
    ['certificate-authority', cluster?.['certificate-authority']],
    ['client-certificate', user?.['client-certificate']],
    ['client-key', user?.['client-key']],
  ]
  const referencedFiles: string[] = []
  for (const [field, value] of files) {
    if (value === undefined) continue
    if (typeof value !== 'string' || !path.isAbsolute(value)) {
      problems.push(
        `${field} must be an absolute path (the API server reads it inside its container), not ${JSON.stringify(value)}`,
      )
    } else if (!existsSync(value)) {
      problems.push(`${field} ${value} does not exist`)
    } else {
      referencedFiles.push(value)
    }
  }
  if (problems.length > 0) throw new UserError(`webhook kubeconfig ${file}: ${problems.join('; ')}`)
  return {
    server,
    caFile: cluster?.['certificate-authority'],
    clientCertificate: user?.['client-certificate'],
    clientKey: user?.['client-key'],
    referencedFiles,
  }
}

/**
 * Does the backend's serving certificate cover the host of `server`? Connects once (the backend
 * may not be up yet: then `unreachable`), verifying the chain against the CA.
 */
export function checkServingCertificate(
  server: string,
  caFile: string,
  timeoutMs = 3000,
): Promise<{ok: true} | {ok: false; problem: string} | {unreachable: string}> {
  const url = new URL(server)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  return new Promise((resolve) => {
    const socket = connect(
      {
        host,
        port: Number(url.port || 443),
        ca: readFlagFile("the webhook kubeconfig's certificate-authority", caFile),
        servername: /^[\d.:]+$/.test(host) ? undefined : host,
        rejectUnauthorized: false,
        timeout: timeoutMs,
      },
      () => {
        const cert = socket.getPeerCertificate()
        const identity = checkServerIdentity(host, cert)
        const authorized = socket.authorized
        const reason = socket.authorizationError
        socket.end()
        if (identity)
          resolve({
            ok: false,
            problem: `the backend's certificate does not cover ${host} (${cert.subjectaltname ?? 'no subjectAltName'})`,
          })
        else if (!authorized)
          resolve({ok: false, problem: `the backend's certificate is not signed by ${caFile} (${String(reason)})`})
        else resolve({ok: true})
      },
    )
    socket.on('timeout', () => {
      socket.destroy()
      resolve({unreachable: `${url.host} did not answer within ${timeoutMs} ms`})
    })
    socket.on('error', (error: NodeJS.ErrnoException) =>
      resolve({unreachable: `${url.host}: ${describeFailure(error)}`}),
    )
  })
}

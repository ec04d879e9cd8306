// `webhook serve` as the API server meets it: a child process (the CLI or the static pod's bundle)
// answering ImageReviews over HTTPS.
import {type ChildProcess, spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {CLI, ROOT} from './cli.js'
import {httpsRequest, type TlsClient} from './https-client.js'
import {freePort} from './registry.js'
import {createTestCa} from './tls.js'

/**
 * TLS for a backend under test, made in `dir`: a test CA, the backend's serving certificate for
 * 127.0.0.1 and the API server's client certificate. `args` are `webhook serve`'s TLS flags;
 * `client` is what the API server presents.
 */
export async function backendTls(dir: string): Promise<{args: string[]; client: TlsClient}> {
  const ca = await createTestCa(dir)
  const serving = await ca.issue({cn: 'imgsec-webhook', ipAddresses: ['127.0.0.1']})
  const client = await ca.issue({cn: 'kube-apiserver'})
  return {
    args: ['--cert', serving.certFile, '--key', serving.keyFile, '--client-ca', ca.caCertFile],
    client: {ca: ca.caCertPem, cert: client.certPem, key: client.keyPem},
  }
}

export interface Backend {
  url: string
  child: ChildProcess
  output: () => string
  stop: () => Promise<void>
}

/** `webhook serve` through the CLI, or the standalone bundle the static pod runs. */
export async function startBackend(entry: 'cli' | 'bundle', args: string[]): Promise<Backend> {
  const port = await freePort()
  const argv =
    entry === 'cli'
      ? [CLI, 'webhook', 'serve', '--port', String(port), ...args]
      : [path.join(ROOT, 'dist', 'imgsec-webhook.mjs'), '--port', String(port), ...args]
  const child = spawn(process.execPath, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {...process.env, NODE_ENV: 'production'},
  })
  let output = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const deadline = Date.now() + 15_000
  while (!output.includes('"event":"listening"')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`backend did not start: ${output}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url: `https://127.0.0.1:${port}/image_policy`,
    child,
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

export const review = (images: string[], namespace = 'shop') =>
  JSON.stringify({
    apiVersion: 'imagepolicy.k8s.io/v1alpha1',
    kind: 'ImageReview',
    spec: {containers: images.map((image) => ({image})), namespace},
  })

/**
 * Asks the backend `whitelist enable` set up about one image, as the API server would: through the
 * webhook kubeconfig it wrote (its server, CA and client certificate).
 */
export function reviewerFromKubeconfig(
  kubeconfigFile: string,
): (image: string, namespace?: string) => Promise<{allowed: boolean; reason?: string}> {
  const kubeconfig = parseYaml(readFileSync(kubeconfigFile, 'utf8'))
  const tls = {
    ca: readFileSync(kubeconfig.clusters[0].cluster['certificate-authority'], 'utf8'),
    cert: readFileSync(kubeconfig.users[0].user['client-certificate'], 'utf8'),
    key: readFileSync(kubeconfig.users[0].user['client-key'], 'utf8'),
  }
  return async (image, namespace = 'default') =>
    JSON.parse((await httpsRequest(kubeconfig.clusters[0].cluster.server, tls, review([image], namespace))).body).status
}

// Asking the image policy backend, with the CA and client certificate the API server uses: is it
// healthy (and deciding by the policy file just written), does it answer an ImageReview.
import {readFileSync} from 'node:fs'

import {httpsRequest, type TlsClient} from '../https-request.js'
import {pollUntil} from '../poll.js'
import {POLICY_DIGEST_HEADER} from '../webhook/webhook-server.js'
import type {WhitelistPaths} from './files.js'
import {describeFailure} from '../describe-error.js'

/** GET/POST to the backend; status, body and the policy digest it reports. */
async function backendRequest(
  url: string,
  tls: TlsClient,
  body?: string,
): Promise<{status: number; body: string; policyDigest?: string}> {
  const answer = await httpsRequest(url, {tls, body})
  const digest = answer.headers[POLICY_DIGEST_HEADER]
  return {status: answer.status, body: answer.body, policyDigest: typeof digest === 'string' ? digest : undefined}
}

const imageReview = (image: string) =>
  JSON.stringify({
    apiVersion: 'imagepolicy.k8s.io/v1alpha1',
    kind: 'ImageReview',
    spec: {containers: [{image}], namespace: 'default'},
  })

/** The API server's view of our backend: the CA it trusts and its client certificate, from --config-dir. */
export function apiserverTls(paths: WhitelistPaths): Required<TlsClient> {
  return {
    ca: readFileSync(paths.caCert, 'utf8'),
    cert: readFileSync(paths.clientCert, 'utf8'),
    key: readFileSync(paths.clientKey, 'utf8'),
  }
}

/**
 * Wait for /healthz, then send a test ImageReview through the exact URL the API server will use.
 * With `policyDigest` (the sha256 of the policy file just written), our backend must also report
 * that it decides by that file: a re-run with a new allowlist is not checked against the old one.
 * A backend that reports no digest (an external one) is not waited for.
 */
export async function checkBackend(
  webhookUrl: string,
  tls: Required<TlsClient>,
  timeoutMs: number,
  policyDigest?: string,
): Promise<{healthy: boolean; answering: boolean; detail: string}> {
  const health = new URL('/healthz', webhookUrl).href
  let last = 'no answer'
  const healthy = await pollUntil(
    async () => {
      try {
        const answer = await backendRequest(health, tls)
        if (answer.status === 200 && (!policyDigest || !answer.policyDigest || answer.policyDigest === policyDigest))
          return true
        last = answer.status === 200 ? 'the backend still decides by the previous policy file' : `HTTP ${answer.status}`
      } catch (error) {
        last = describeFailure(error)
      }
      return undefined
    },
    {timeoutMs, intervalMs: 250},
  )
  if (!healthy)
    return {
      healthy: false,
      answering: false,
      detail: `${health} did not answer within ${Math.round(timeoutMs / 1000)}s (last: ${last})`,
    }
  try {
    const answer = await backendRequest(webhookUrl, tls, imageReview('nginx:latest'))
    const status = (JSON.parse(answer.body) as {status?: {allowed?: boolean; reason?: string}}).status
    if (answer.status !== 200 || typeof status?.allowed !== 'boolean')
      return {
        healthy: true,
        answering: false,
        detail: `${webhookUrl} answered HTTP ${answer.status} without an ImageReview status`,
      }
    return {
      healthy: true,
      answering: true,
      detail: `${webhookUrl} answered a test ImageReview for nginx:latest: ${status.allowed ? 'allowed' : `denied (${status.reason})`}`,
    }
  } catch (error) {
    return {healthy: true, answering: false, detail: `${webhookUrl}: ${describeFailure(error)}`}
  }
}

/** Ask the backend until its decision for `image` is `allowed`; false when it never was within the time. */
export async function awaitDecision(
  webhookUrl: string,
  tls: Required<TlsClient>,
  image: string,
  /** The decision awaited: allowed or not, or a test of the whole status (a refusal for one reason). */
  expected: boolean | ((status: {allowed?: boolean; reason?: string}) => boolean),
  timeoutMs: number,
): Promise<boolean> {
  const follows =
    typeof expected === 'boolean' ? (status: {allowed?: boolean}) => status.allowed === expected : expected
  const confirmed = await pollUntil(
    async () => {
      try {
        const answer = await backendRequest(webhookUrl, tls, imageReview(image))
        if (follows((JSON.parse(answer.body) as {status?: {allowed?: boolean}}).status ?? {})) return true
      } catch {}
      return undefined
    },
    {timeoutMs, intervalMs: 200},
  )
  return confirmed ?? false
}

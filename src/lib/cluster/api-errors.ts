// API failures as one line a user can act on: the verb, resource and namespace, the server, the
// Status message; timeouts and network errors in words. Never a request or response body.
import {safeErrorMessage} from '../describe-error.js'
import {UserError} from '../errors.js'
import {describeNetworkError, isTimeout} from '../network-errors.js'

export {isTimeout} from '../network-errors.js'
import type {ApiCall} from './kube-client.js'

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

/** The Kubernetes Status object carried by a failed response, when there is one. */
export interface KubeStatus {
  kind?: string
  message?: string
  reason?: string
  code?: number
  details?: {
    name?: string
    kind?: string
    group?: string
    causes?: Array<{field?: string; message?: string; reason?: string}>
  }
}

export function apiStatusOf(error: unknown): {code: number; status: KubeStatus} | undefined {
  const candidate = error as {code?: unknown; body?: unknown}
  if (!candidate || typeof candidate.code !== 'number' || candidate.body === undefined) return undefined
  let body = candidate.body
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body)
    } catch {
      // Not a Status (a proxy's HTML page, a load balancer's text): its content is never repeated.
      body = {}
    }
  }
  if (!body || typeof body !== 'object') body = {}
  // Only a Kubernetes Status speaks for the API server; other JSON (a proxy's) is not repeated either.
  const status = body as KubeStatus
  if (status.kind !== 'Status') return {code: candidate.code, status: {}}
  return {code: candidate.code, status}
}

function target(call: ApiCall): string {
  const object = call.name ? `${call.resource} "${call.name}"` : call.resource
  return call.namespace ? `${object} in namespace "${call.namespace}"` : object
}

/** Turn a client-node failure into one line a user can act on. Never includes request bodies. */
export function describeApiError(
  error: unknown,
  call: ApiCall,
  server: string,
  contextName?: string,
  timeoutMs?: number,
): UserError {
  if (error instanceof UserError) return error
  if (isTimeout(error)) {
    const limit = timeoutMs ? ` within ${seconds(timeoutMs)}` : ''
    return new UserError(
      `the Kubernetes API server ${server} did not answer${limit} (${call.verb} ${target(call)}); check that the kubeconfig's server address is right and reachable, or raise --request-timeout`,
    )
  }
  const api = apiStatusOf(error)
  if (api) {
    const {code, status} = api
    const message = status.message ?? ''
    const debug = `HTTP ${code} ${status.reason ?? ''} from ${server}: ${message}`
    switch (code) {
      case 401:
        return new UserError(
          `unauthorized: the API server ${server} rejected the credentials of context "${contextName ?? ''}" (${call.verb} ${target(call)}); log in again or fix the kubeconfig user`,
          {detail: debug},
        )
      case 403:
        return new UserError(
          `forbidden: RBAC does not allow you to ${call.verb} ${target(call)}${message ? `: ${message}` : ''}`,
          {detail: debug},
        )
      case 404:
        if (status.details?.kind === 'namespaces' && call.resource !== 'namespaces') {
          return new UserError(
            `namespace "${status.details.name ?? call.namespace}" not found; create it first (kubectl create namespace ${status.details.name ?? call.namespace})`,
            {detail: debug},
          )
        }
        return new UserError(`${target(call)} not found`, {detail: debug})
      case 409:
        if (status.reason === 'AlreadyExists') return new UserError(`${target(call)} already exists`, {detail: debug})
        return new UserError(
          `conflict: ${target(call)} was changed by someone else while we updated it; run the command again`,
          {detail: debug},
        )
      case 422:
        return new UserError(`the API server rejected ${target(call)} as invalid${message ? `: ${message}` : ''}`, {
          detail: debug,
        })
      default:
        return new UserError(`${call.verb} ${target(call)} failed: HTTP ${code}${message ? `: ${message}` : ''}`, {
          detail: debug,
        })
    }
  }
  const network = describeNetworkError(error, server, 'the Kubernetes API server')
  if (network) return new UserError(`${network} (context "${contextName ?? ''}")`, {detail: safeErrorMessage(error)})
  if (error instanceof SyntaxError || (error as {notJson?: unknown})?.notJson) {
    // The parser's message would quote the answer.
    return new UserError(
      `${call.verb} ${target(call)}: the answer of ${server} is not JSON (is the kubeconfig's server a Kubernetes API server, not a proxy or a web page?)`,
    )
  }
  return new UserError(`${call.verb} ${target(call)} on ${server} failed: ${safeErrorMessage(error)}`)
}

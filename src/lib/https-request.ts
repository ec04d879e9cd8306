import type {IncomingHttpHeaders} from 'node:http'
import {request} from 'node:https'

/** Whom to trust, and the client certificate to present (mutual TLS, as kube-apiserver does to a webhook). */
export interface TlsClient {
  ca: string
  cert?: string
  key?: string
}

export interface HttpsAnswer {
  status: number
  body: string
  headers: IncomingHttpHeaders
}

/**
 * One HTTPS request: GET without a body, POST (JSON) with one; resolves with status, body and
 * headers whatever the status, rejects on a network error or after `timeoutMs` of silence.
 */
export function httpsRequest(
  url: string,
  options: {tls: TlsClient; body?: string; timeoutMs?: number},
): Promise<HttpsAnswer> {
  const {tls, body} = options
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        timeout: options.timeoutMs ?? 3000,
        headers: {'content-type': 'application/json'},
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk
        })
        res.on('end', () => resolve({status: res.statusCode ?? 0, body: text, headers: res.headers}))
      },
    )
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end(body)
  })
}

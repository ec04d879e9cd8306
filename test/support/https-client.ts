import {request} from 'node:https'

export interface TlsClient {
  ca: string
  cert?: string
  key?: string
}

/** One HTTPS request with the given trust and client certificate; resolves with status and body. */
export function httpsRequest(
  url: string,
  tls: TlsClient,
  body?: string | Buffer,
  method = body === undefined ? 'GET' : 'POST',
): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {method, ca: tls.ca, cert: tls.cert, key: tls.key, headers: {'content-type': 'application/json'}},
      (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk
        })
        res.on('end', () => resolve({status: res.statusCode ?? 0, body: text}))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

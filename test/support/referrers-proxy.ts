// Debian's docker-registry (distribution 2.8) has no OCI 1.1 referrers API. This proxy adds it in
// front of an anonymous test registry: GET /v2/<name>/referrers/<digest> answers the index the
// registry holds under the referrers tag schema's `sha256-<hex>` tag (an empty index when there is
// none), as a registry with the API would; every other request is passed through unchanged.
import * as http from 'node:http'

import {request, type RunningRegistry} from './registry.js'

export interface ReferrersProxy {
  host: string
  /** How many referrers requests it answered. */
  referrersRequests(): number
  close(): Promise<void>
}

const INDEX = 'application/vnd.oci.image.index.v1+json'

export async function startReferrersProxy(registry: RunningRegistry): Promise<ReferrersProxy> {
  let answered = 0
  const server = http.createServer((req, res) => {
    const match = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/.exec(decodeURIComponent(req.url ?? ''))
    if (match && req.method === 'GET') {
      answered++
      void request(`${registry.url}/v2/${match[1]}/manifests/${match[2].replace(':', '-')}`, {
        headers: {Accept: INDEX},
      }).then(
        (answer) => {
          const body =
            answer.status === 200
              ? answer.body
              : Buffer.from(JSON.stringify({schemaVersion: 2, mediaType: INDEX, manifests: []}))
          res.writeHead(200, {'content-type': INDEX, 'content-length': String(body.length)})
          res.end(body)
        },
        () => res.writeHead(502).end(),
      )
      return
    }
    const upstream = http.request(
      `${registry.url}${req.url ?? '/'}`,
      {method: req.method, headers: {...req.headers, host: registry.host}, agent: false},
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => res.writeHead(502).end())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  return {
    host: `127.0.0.1:${port}`,
    referrersRequests: () => answered,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

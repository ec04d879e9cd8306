import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {request} from 'node:https'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {type RunningBackend, startWebhookBackend} from '../../../src/lib/webhook/webhook-backend.js'
import {renderStaticPod, whitelistPaths} from '../../../src/lib/whitelist/files.js'
import {createTestCa, type IssuedCert, type TestCa} from '../../support/tls.js'

interface HttpGetProbe {
  host: string
  port: number
  path: string
  scheme: string
}

/**
 * A probe as the kubelet sends it (k8s.io/kubernetes v1.37.2 pkg/probe/http/http.go, New): TLS
 * without verifying the server (InsecureSkipVerify: true), no client certificate, no keep-alive;
 * 200–399 is success. Resolves with the status, or with the network error's code.
 */
function kubeletProbe(probe: HttpGetProbe, method = 'GET'): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      {host: probe.host, port: probe.port, path: probe.path, method, rejectUnauthorized: false, agent: false},
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
    req.end()
  })
}

describe('static placement: the liveness probe the kubelet runs against the backend', function () {
  this.timeout(15_000)
  let ca: TestCa
  let serving: IssuedCert
  let backend: RunningBackend | undefined
  let probe: HttpGetProbe
  let pod: {spec: {containers: Array<Record<string, any>>}}

  before(async () => {
    ca = await createTestCa()
    serving = await ca.issue({cn: 'imgsec-webhook', ipAddresses: ['127.0.0.1']})
    const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-liveness-'))
    writeFileSync(path.join(dir, 'policy.yaml'), 'allowedRegistries: [docker.io]\n')
    // The backend as the static pod starts it: serving certificate, --client-ca, loopback only.
    backend = await startWebhookBackend({
      certFile: serving.certFile,
      keyFile: serving.keyFile,
      clientCaFile: ca.caCertFile,
      address: '127.0.0.1',
      port: 0,
      policyFile: path.join(dir, 'policy.yaml'),
      log: () => undefined,
    })
    pod = parseYaml(
      renderStaticPod({image: 'x@sha256:' + 'a'.repeat(64), paths: whitelistPaths(dir), port: backend.port}),
    )
    probe = pod.spec.containers[0].livenessProbe.httpGet
  })
  after(async () => backend?.close())

  it('the static pod has a liveness and a readiness probe on /healthz over HTTPS at 127.0.0.1:--port', () => {
    const [container] = pod.spec.containers
    expect(probe).to.deep.equal({host: '127.0.0.1', path: '/healthz', port: backend!.port, scheme: 'HTTPS'})
    expect(container.readinessProbe.httpGet).to.deep.equal(probe)
    // Restarted after a minute of failures, not at the first slow answer.
    expect(container.livenessProbe.failureThreshold * container.livenessProbe.periodSeconds).to.equal(60)
  })

  it('the kubelet, which presents no client certificate, gets 200 from /healthz; a review without one is refused', async () => {
    expect(await kubeletProbe(probe)).to.equal(200)
    expect(await kubeletProbe({...probe, path: '/image_policy'}, 'POST')).to.equal(401)
  })

  it('a backend that is gone fails the probe, so the kubelet restarts the container', async () => {
    await backend!.close()
    backend = undefined
    expect(await kubeletProbe(probe)).to.equal('ECONNREFUSED')
  })
})

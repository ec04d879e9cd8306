import {expect} from 'chai'
import {connect as tlsConnect} from 'node:tls'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {request} from 'node:https'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {createJsonLog, type RunningBackend, startWebhookBackend} from '../../../src/lib/webhook/webhook-backend.js'
import {createTestCa, type IssuedCert, type TestCa} from '../../support/tls.js'

// Issue 12: a slow, silent or vanishing client must not hold the backend, and its log must not
// grow in memory when the reader stalls.
describe('webhook backend limits (in process, short limits)', function () {
  this.timeout(15_000)
  let ca: TestCa
  let serving: IssuedCert
  let backend: RunningBackend
  const logs: Array<Record<string, unknown>> = []

  before(async () => {
    ca = await createTestCa()
    serving = await ca.issue({cn: 'imgsec-webhook', ipAddresses: ['127.0.0.1']})
    const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-limits-'))
    writeFileSync(path.join(dir, 'policy.yaml'), 'allowedRegistries: [docker.io]\n')
    backend = await startWebhookBackend({
      certFile: serving.certFile,
      keyFile: serving.keyFile,
      clientCaFile: ca.caCertFile,
      address: '127.0.0.1',
      port: 0,
      policyFile: path.join(dir, 'policy.yaml'),
      log: (entry) => logs.push(entry),
      limits: {handshakeMs: 500, headersMs: 500, requestMs: 800, unauthenticatedMs: 500},
    })
  })
  after(async () => {
    await backend?.close()
  })

  /** A TLS connection; resolves with how long the server kept it open. */
  function heldOpen(options: {cert?: string; key?: string; send?: string}): Promise<number> {
    return new Promise((resolve, reject) => {
      const started = Date.now()
      const socket = tlsConnect(
        {host: '127.0.0.1', port: backend.port, ca: ca.caCertPem, cert: options.cert, key: options.key},
        () => {
          if (options.send) socket.write(options.send)
        },
      )
      socket.on('error', () => {})
      // Read what the server says (a 408), so that its end of the connection is seen.
      socket.resume()
      socket.on('close', () => resolve(Date.now() - started))
      setTimeout(() => reject(new Error('the server kept the connection open')), 10_000).unref()
    })
  }

  it('an idle connection without a client certificate is closed', async () => {
    expect(await heldOpen({})).to.be.lessThan(3000)
  })

  it('a request whose body never ends is cut at the request limit', async () => {
    const client = await ca.issue({cn: 'kube-apiserver'})
    const held = await heldOpen({
      cert: client.certPem,
      key: client.keyPem,
      send: 'POST /image_policy HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{"apiVersion"',
    })
    expect(held).to.be.lessThan(4000)
  })

  it('headers that never end are cut', async () => {
    const client = await ca.issue({cn: 'kube-apiserver'})
    expect(
      await heldOpen({cert: client.certPem, key: client.keyPem, send: 'POST /image_policy HTTP/1.1\r\nhost: x\r\n'}),
    ).to.be.lessThan(4000)
  })

  it('a client that goes away mid-request is logged as such, not as an internal error', async () => {
    const client = await ca.issue({cn: 'kube-apiserver'})
    await new Promise<void>((resolve) => {
      const req = request({
        host: '127.0.0.1',
        port: backend.port,
        path: '/image_policy',
        method: 'POST',
        ca: ca.caCertPem,
        cert: client.certPem,
        key: client.keyPem,
        headers: {'content-length': '1000'},
      })
      req.on('error', () => resolve())
      req.write('{"apiVersion"')
      setTimeout(() => req.destroy(), 200)
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(logs.filter((entry) => entry.event === 'internal-error')).to.deep.equal([])
    expect(logs.some((entry) => entry.event === 'client-aborted' && entry.level === 'info')).to.equal(true)
  })
})

describe('webhook backend log', () => {
  it('drops and counts lines while the reader is behind, then says how many', () => {
    const written: string[] = []
    const stream = {writableLength: 0, write: (line: string) => written.push(line) > 0}
    const log = createJsonLog(stream, 100)
    log({event: 'a'})
    stream.writableLength = 1000
    log({event: 'b'})
    log({event: 'c'})
    stream.writableLength = 0
    log({event: 'd'})
    log.flush()
    const events = written
      .join('')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(events.map((entry) => entry.event)).to.deep.equal(['a', 'log-lines-dropped', 'd'])
    expect(events[1].count).to.equal(2)
  })

  it('writes in batches: nothing until the timer or 64 KiB, then one write of every pending line', async () => {
    const written: string[] = []
    const stream = {writableLength: 0, write: (chunk: string) => written.push(chunk) > 0}
    const log = createJsonLog(stream, 1024 * 1024, 5)
    log({event: 'a'})
    log({event: 'b'})
    expect(written).to.deep.equal([])
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(written).to.have.length(1)
    expect(
      written[0]
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line).event),
    ).to.deep.equal(['a', 'b'])
    for (let i = 0; i < 1000; i++) log({event: 'big', padding: 'x'.repeat(100)})
    expect(written.length).to.be.greaterThan(1)
    expect(written.slice(1).every((chunk) => chunk.length >= 64 * 1024)).to.equal(true)
    log.flush()
    expect(written.join('').split('\n').filter(Boolean)).to.have.length(1002)
  })
})

describe('webhook backend and the image-content rules', () => {
  it('starts with forbidShell, requireNonRootImage and maxImageAgeDays: it reads images to enforce them', async () => {
    const ca = await createTestCa()
    const serving = await ca.issue({cn: 'imgsec-webhook', ipAddresses: ['127.0.0.1']})
    const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-content-rules-'))
    const policyFile = path.join(dir, 'policy.yaml')
    writeFileSync(
      policyFile,
      'allowedRegistries: [docker.io]\nforbidShell: true\nrequireNonRootImage: true\nmaxImageAgeDays: 90\n',
    )
    const backend = await startWebhookBackend({
      certFile: serving.certFile,
      keyFile: serving.keyFile,
      address: '127.0.0.1',
      port: 0,
      policyFile,
      log: () => {},
    })
    expect(backend.port).to.be.above(0)
    await backend.close()
  })
})

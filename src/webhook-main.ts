// Entry point of the standalone backend bundle (dist/imgsec-webhook.mjs) that the static pod runs
// with plain `node`: no oclif, no node_modules, just the HTTPS server and the policy engine.
import {parseArgs} from 'node:util'

import {describeFailure} from './lib/describe-error.js'
import {parseDuration} from './lib/duration.js'
import {isUserError} from './lib/errors.js'
import {startWebhookBackend} from './lib/webhook/webhook-backend.js'
import {splitCommaList} from './lib/comma-list.js'

const {values} = parseArgs({
  options: {
    cert: {type: 'string'},
    key: {type: 'string'},
    'client-ca': {type: 'string'},
    address: {type: 'string', default: '127.0.0.1'},
    port: {type: 'string', default: '8443'},
    policy: {type: 'string'},
    'allowed-registries': {type: 'string'},
    'allow-unauthenticated': {type: 'boolean', default: false},
    'docker-config': {type: 'string'},
    'signature-timeout': {type: 'string', default: '10s'},
    'image-facts-timeout': {type: 'string', default: '10s'},
  },
})

if (!values.cert || !values.key) {
  process.stderr.write(
    'usage: imgsec-webhook.mjs --cert FILE --key FILE [--client-ca FILE] [--address A] [--port N] [--policy FILE] [--allowed-registries a,b] [--docker-config FILE] [--signature-timeout 10s] [--image-facts-timeout 10s]\n',
  )
  process.exit(1)
}

try {
  const backend = await startWebhookBackend({
    certFile: values.cert,
    keyFile: values.key,
    clientCaFile: values['client-ca'],
    address: values.address!,
    port: Number(values.port),
    policyFile: values.policy,
    allowedRegistries:
      values['allowed-registries'] === undefined ? undefined : splitCommaList(values['allowed-registries']),
    allowUnauthenticated: values['allow-unauthenticated'],
    dockerConfig: values['docker-config'],
    signatureBudgetMs: parseDuration(values['signature-timeout']!, '--signature-timeout'),
    imageFactsBudgetMs: parseDuration(values['image-facts-timeout']!, '--image-facts-timeout'),
  })
  await backend.closed
  // Stopped and its log flushed: nothing is left to do. Sockets kept alive to registries and the
  // caches' timers must not keep the process (the kubelet would wait out the pod's grace period).
  process.exit(0)
} catch (error) {
  // Never a parser's own message (it quotes its input) nor a raw code: describeFailure says what kind of failure it was.
  process.stderr.write(`error: ${isUserError(error) ? error.message : describeFailure(error)}\n`)
  process.exit(1)
}

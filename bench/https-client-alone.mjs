// The "bare client" baseline of the start-up benchmark, as its own node process: what any Node
// program pays to make the API request our commands make first, and nothing else. Node start-up +
// ESM import of the project's `yaml` package + reading the kubeconfig with it + reading the CA file
// + one HTTPS GET (the TLS context, the handshake, the request) with the kubeconfig's token.
// Usage: node bench/https-client-alone.mjs KUBECONFIG (exits when the answer arrives).
import {readFileSync} from 'node:fs'
import {request} from 'node:https'
import {parse} from 'yaml'

const config = parse(readFileSync(process.argv[2], 'utf8'))
const context = config.contexts.find((entry) => entry.name === config['current-context']).context
const {cluster} = config.clusters.find((entry) => entry.name === context.cluster)
const {user} = config.users.find((entry) => entry.name === context.user)
const ca = readFileSync(cluster['certificate-authority'])
request(
  `${cluster.server}/api/v1/namespaces/${context.namespace ?? 'default'}/pods?limit=500`,
  {ca, headers: {authorization: `Bearer ${user.token}`, accept: 'application/json'}},
  (response) => response.resume().on('end', () => process.exit(0)),
)
  .on('error', () => process.exit(1))
  .end()

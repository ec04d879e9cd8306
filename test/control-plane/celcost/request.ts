// The input of celcost (main.go beside this file): the ValidatingAdmissionPolicy that
// `whitelist enable --mode vap` applies, a pod and the params ConfigMap, as one JSON document.
//
//   npx tsx test/control-plane/celcost/request.ts [--containers 50] [--entries 100] [--refused IMAGE] [--update] \
//     | (cd test/control-plane && go run ./celcost)
//
// The pod has N containers and N init containers with distinct registry.k8s.io images; the
// allowlist has M entries and registry.k8s.io comes last, so every image is compared with all M
// (the most expensive case). --refused replaces the last image of both lists; --update sends the
// same pod as oldObject (an UPDATE that changes no image, e.g. a scale).
import {parseArgs} from 'node:util'

import {DEFAULT_POLICY} from '../../../src/lib/policy/policy.js'
import {renderVapObjects} from '../../../src/lib/policy/vap.js'

const {values} = parseArgs({
  options: {
    containers: {type: 'string', default: '50'},
    entries: {type: 'string', default: '100'},
    refused: {type: 'string'},
    update: {type: 'boolean', default: false},
  },
})
const n = Number(values.containers)
const entries = Number(values.entries)
const allowedRegistries = [
  ...Array.from({length: entries - 1}, (_, k) => `reg${k}.example.com/team${k}`),
  'registry.k8s.io',
]
const [params, policy] = renderVapObjects(
  {...DEFAULT_POLICY, allowedRegistries},
  {paramsNamespace: 'kube-system'},
) as object[]
const images = Array.from({length: n}, (_, k) => `registry.k8s.io/team${k}/app-${k}:v1.${k}`)
if (values.refused) images[n - 1] = values.refused
const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {name: 'big', namespace: 'default'},
  spec: {
    containers: images.map((image, k) => ({name: `c${k}`, image})),
    initContainers: images.map((image, k) => ({name: `i${k}`, image})),
  },
}
process.stdout.write(`${JSON.stringify({policy, params, object: pod, ...(values.update ? {oldObject: pod} : {})})}\n`)

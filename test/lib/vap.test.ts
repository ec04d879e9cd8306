import {run} from '@bufbuild/cel'
import {strings} from '@bufbuild/cel/ext'
import {expect} from 'chai'

import {DEFAULT_POLICY, evaluateImage, type ImagePolicy} from '../../src/lib/policy.js'
import {IMAGES_EXPRESSION, renderVapObjects, vapValidations} from '../../src/lib/vap.js'

/** CEL maps are JS Maps: convert a JSON object (a Kubernetes object) recursively. */
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel)
  if (value && typeof value === 'object') return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)]))
  return value
}

function celVerdict(policy: ImagePolicy, images: string[]): {allowed: boolean; messages: string[]} {
  const params = toCel({data: {allowedRegistries: (policy.allowedRegistries ?? []).join(',')}})
  const variables = toCel({images})
  const messages: string[] = []
  for (const validation of vapValidations(policy)) {
    const ok = run(validation.expression, {variables, params} as never, {funcs: strings})
    if (ok instanceof Error) throw ok
    if (ok !== true) messages.push(String(run(validation.messageExpression, {variables, params} as never, {funcs: strings})))
  }
  return {allowed: messages.length === 0, messages}
}

const D = 'd'.repeat(64)
const IMAGES = [
  'nginx', 'httpd', 'nginx:1.18.0', 'nginx:latest', `nginx@sha256:${D}`, `nginx:latest@sha256:${D}`, `nginx:1.25@sha256:${D}`,
  'myprivateregistry.com:5000/nginx:alpine', 'kainlite/kube-image-bouncer:latest', 'registry.k8s.io/kube-apiserver:v1.32.0',
  'gcr.io/distroless/static-debian10', 'gcr.io/distroless/static-debian12:nonroot', 'gcr.io/distroless-evil/x:1', 'index.docker.io/library/nginx:1',
  'registry-1.docker.io/bitnami/redis:7', 'docker.io/bitnami/redis:7', 'quay.io/prometheus/node-exporter:v1.8.0', 'localhost:5000/app:dev',
  'localhost/app', 'reg.example.com/team/app:2', 'a.b.example.com/app:1', 'example.com/app:1', 'reg.example.com:5000/app:1',
  'NGINX', 'nginx/App:1', 'nginx:', 'nginx@sha256:123', '-bad/x', 'ghcr.io/org/repo/sub/image:sha-abc', '127.0.0.1:5000/app:1',
]
const POLICIES: Array<[string, Partial<ImagePolicy>]> = [
  ['defaults', {}],
  ['docker.io + registry.k8s.io', {allowedRegistries: ['docker.io', 'registry.k8s.io']}],
  ['host:port, path prefix, wildcard', {allowedRegistries: ['myprivateregistry.com:5000', 'gcr.io/distroless', '*.example.com', 'docker.io/bitnami']}],
  ['localhost and ports', {allowedRegistries: ['localhost:5000', 'localhost', '127.0.0.1:5000', 'registry-1.docker.io']}],
  ['require digest, latest allowed', {requireDigest: true, denyLatest: false}],
  ['untagged allowed', {denyUntagged: false}],
]

describe('ValidatingAdmissionPolicy CEL', () => {
  for (const [title, override] of POLICIES) {
    describe(`policy: ${title}`, () => {
      const policy: ImagePolicy = {...DEFAULT_POLICY, exemptNamespaces: [], ...override}
      for (const image of IMAGES) {
        it(`agrees with the policy engine on ${image}`, () => {
          const engine = evaluateImage(image, {namespace: 'default'}, policy)
          const vap = celVerdict(policy, [image])
          expect(vap.allowed, vap.messages.join('; ')).to.equal(engine.allowed)
          const rules = vap.messages.map((m) => m.split(':')[0])
          // The rules CEL names are the engine's (when the reference is valid, every rule is checked in both).
          if (engine.violations[0]?.rule !== 'image-reference-invalid') expect(rules.sort()).to.deep.equal(engine.violations.map((v) => v.rule).sort())
        })
      }
    })
  }

  it('the message names every refused image', () => {
    const policy: ImagePolicy = {...DEFAULT_POLICY, allowedRegistries: ['docker.io']}
    const {messages} = celVerdict(policy, ['nginx:1.25', 'quay.io/a/b:1', 'gcr.io/c/d:2'])
    expect(messages).to.deep.equal(['image-registry-not-allowed: registry not in the allowed registries: quay.io/a/b:1, gcr.io/c/d:2'])
  })

  describe('the images variable covers every container list of pods and workloads', () => {
    const spec = {containers: [{name: 'a', image: 'a:1'}], initContainers: [{name: 'b', image: 'b:1'}], ephemeralContainers: [{name: 'c', image: 'c:1'}]}
    const cases: Array<[string, object]> = [
      ['Pod', {kind: 'Pod', spec}],
      ['Deployment', {kind: 'Deployment', spec: {template: {spec}}}],
      ['CronJob', {kind: 'CronJob', spec: {jobTemplate: {spec: {template: {spec}}}}}],
    ]
    for (const [kind, object] of cases) {
      it(kind, () => {
        const images = run(`(${IMAGES_EXPRESSION}).map(c, c.image)`, {object: toCel(object)} as never, {funcs: strings})
        expect([...(images as Iterable<unknown>)]).to.deep.equal(['a:1', 'b:1', 'c:1'])
      })
    }
    it('a Pod with containers only', () => {
      const images = run(`(${IMAGES_EXPRESSION}).map(c, c.image)`, {object: toCel({kind: 'Pod', spec: {containers: [{image: 'x:1'}]}})} as never, {funcs: strings})
      expect([...(images as Iterable<unknown>)]).to.deep.equal(['x:1'])
    })
  })

  it('matchConditions skip mirror pods and honour break-glass', () => {
    const byKind = (objects: object[], kind: string) => (objects as Array<Record<string, any>>).find((o) => o.kind === kind)!
    const vap = byKind(renderVapObjects({...DEFAULT_POLICY}, {paramsNamespace: 'kube-system'}), 'ValidatingAdmissionPolicy')
    const applies = (object: object) => vap.spec.matchConditions.every((condition: {expression: string}) => run(condition.expression, {object: toCel(object)} as never, {funcs: strings}) === true)
    expect(applies({kind: 'Pod', metadata: {name: 'p'}})).to.equal(true)
    expect(applies({kind: 'Pod', metadata: {annotations: {'kubernetes.io/config.mirror': 'abc'}}})).to.equal(false)
    expect(applies({kind: 'Pod', metadata: {annotations: {'alpha.image-policy.k8s.io/break-glass': 'true'}}})).to.equal(false)
    expect(applies({kind: 'Deployment', metadata: {annotations: {'alpha.image-policy.k8s.io/break-glass': 'false'}}})).to.equal(true)
    const strict = byKind(renderVapObjects({...DEFAULT_POLICY, breakGlass: false}, {paramsNamespace: 'kube-system'}), 'ValidatingAdmissionPolicy')
    expect(strict.spec.matchConditions.map((c: {name: string}) => c.name)).to.deep.equal(['not-a-mirror-pod'])
  })

  it('renders params, policy and binding; kube-system exempt; parameterNotFoundAction Deny', () => {
    const [params, vap, binding] = renderVapObjects({...DEFAULT_POLICY, allowedRegistries: ['docker.io', 'registry.k8s.io']}, {paramsNamespace: 'kube-system'}) as Array<Record<string, any>>
    expect(params).to.deep.include({kind: 'ConfigMap', data: {allowedRegistries: 'docker.io,registry.k8s.io'}})
    expect(vap.spec.matchConstraints.resourceRules[0].resources).to.deep.equal(['pods', 'pods/ephemeralcontainers'])
    expect(binding.spec.paramRef).to.deep.equal({name: 'imgsec-allowed-registries', namespace: 'kube-system', parameterNotFoundAction: 'Deny'})
    expect(binding.spec.matchResources.namespaceSelector.matchExpressions[0]).to.deep.equal({key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system']})
  })
})

import {expect} from 'chai'

import {auditWorkload, type Finding, isIgnoredByAnnotation} from '../../../../src/lib/audit/audit.js'
import {CONTAINER_CHECKS} from '../../../../src/lib/audit/checks/index.js'
import {effectivePullPolicy} from '../../../../src/lib/audit/checks/image-pull-policy.js'
import {credentialMatchesImage} from '../../../../src/lib/image/docker-config.js'
import {parseImageReference} from '../../../../src/lib/image/image-reference.js'
import {DEFAULT_POLICY, type ImagePolicy} from '../../../../src/lib/policy/policy.js'
import type {Container, PodSpec} from '../../../../src/lib/audit/workloads.js'

const D = 'e'.repeat(64)
const HARDENED: Container = {
  name: 'app',
  image: `registry.k8s.io/pause:3.9@sha256:${D}`,
  securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: ['ALL']}},
  resources: {limits: {cpu: '100m', memory: '64Mi'}},
}
const AUDIT_POLICY: ImagePolicy = {...DEFAULT_POLICY, exemptNamespaces: []}

function audit(podSpec: PodSpec, options: {policy?: Partial<ImagePolicy>; annotations?: Record<string, string>; names?: string[]; servers?: string[]; namespaceServers?: string[]} = {}): Finding[] {
  return auditWorkload({
    workload: {kind: 'Deployment', namespace: 'default', name: 'web', annotations: options.annotations ?? {}, podSpec, podSpecPath: ['spec', 'template', 'spec']},
    context: {mode: 'cluster', policy: {...AUDIT_POLICY, ...options.policy}, usablePullSecretNames: options.names ?? [], usablePullSecretServers: options.servers, namespacePullSecretServers: options.namespaceServers},
  })
}
const checksOf = (findings: Finding[]) => findings.map((f) => f.check)
const withContainer = (override: Partial<Container>): PodSpec => ({containers: [{...HARDENED, ...override}]})

describe('audit checks', () => {
  it('a hardened container has no findings', () => {
    expect(audit(withContainer({}))).to.deep.equal([])
  })

  it('every check has a unique id, a severity, a title and a fix', () => {
    const ids = CONTAINER_CHECKS.map((c) => c.id)
    expect(new Set(ids).size).to.equal(ids.length)
    for (const check of CONTAINER_CHECKS) {
      expect(check.id).to.match(/^[a-z]+(-[a-z]+)*$/)
      expect(['critical', 'high', 'medium', 'low']).to.include(check.severity)
      expect(check.title).to.not.equal('')
      expect(check.fix).to.not.equal('')
    }
  })

  const cases: Array<{title: string; spec: PodSpec; options?: Parameters<typeof audit>[1]; expected: string[]}> = [
    {title: ':latest', spec: withContainer({image: 'nginx:latest', imagePullPolicy: 'Always'}), expected: ['image-tag-latest', 'image-digest-missing']},
    {title: 'no tag (pull policy defaults to Always)', spec: withContainer({image: 'nginx'}), expected: ['image-tag-missing', 'image-digest-missing']},
    {title: 'digest only is pinned: no missing tag, no pull-policy finding', spec: withContainer({image: `nginx@sha256:${D}`, imagePullPolicy: 'IfNotPresent'}), expected: []},
    {title: 'version tag without digest, default IfNotPresent', spec: withContainer({image: 'nginx:1.27'}), expected: ['image-digest-missing', 'image-pull-policy']},
    {title: 'version tag with Always', spec: withContainer({image: 'nginx:1.27', imagePullPolicy: 'Always'}), expected: ['image-digest-missing']},
    {title: ':latest with explicit IfNotPresent', spec: withContainer({image: 'nginx:latest', imagePullPolicy: 'IfNotPresent'}), expected: ['image-tag-latest', 'image-digest-missing', 'image-pull-policy']},
    {title: 'invalid reference is a finding', spec: withContainer({image: 'NGINX:1'}), expected: ['image-reference-invalid']},
    {title: 'registry not allowed (allowlist given)', spec: withContainer({image: `quay.io/x/y@sha256:${D}`}), options: {policy: {allowedRegistries: ['registry.k8s.io']}}, expected: ['image-registry-not-allowed']},
    {title: 'no allowlist: registry not checked', spec: withContainer({image: `quay.io/x/y@sha256:${D}`}), expected: []},
    {title: 'privileged', spec: withContainer({securityContext: {...HARDENED.securityContext, privileged: true}}), expected: ['privileged']},
    {title: 'runAsUser 0 beats runAsNonRoot', spec: withContainer({securityContext: {...HARDENED.securityContext, runAsUser: 0}}), expected: ['run-as-root']},
    {title: 'runAsNonRoot missing', spec: withContainer({securityContext: {...HARDENED.securityContext, runAsNonRoot: undefined}}), expected: ['run-as-root']},
    {title: 'pod-level runAsNonRoot applies', spec: {securityContext: {runAsNonRoot: true}, containers: [{...HARDENED, securityContext: {...HARDENED.securityContext, runAsNonRoot: undefined}}]}, expected: []},
    {title: 'container overrides pod runAsNonRoot', spec: {securityContext: {runAsNonRoot: true}, containers: [{...HARDENED, securityContext: {...HARDENED.securityContext, runAsNonRoot: false}}]}, expected: ['run-as-root']},
    {title: 'pod-level runAsUser 0', spec: {securityContext: {runAsUser: 0}, containers: [HARDENED]}, expected: ['run-as-root']},
    {title: 'allowPrivilegeEscalation unset', spec: withContainer({securityContext: {...HARDENED.securityContext, allowPrivilegeEscalation: undefined}}), expected: ['privilege-escalation']},
    {title: 'writable root fs', spec: withContainer({securityContext: {...HARDENED.securityContext, readOnlyRootFilesystem: false}}), expected: ['root-filesystem-writable']},
    {title: 'capabilities not dropped', spec: withContainer({securityContext: {...HARDENED.securityContext, capabilities: {drop: ['NET_RAW']}}}), expected: ['capabilities-not-dropped']},
    {title: 'dangerous capability added (CAP_ prefix too)', spec: withContainer({securityContext: {...HARDENED.securityContext, capabilities: {drop: ['ALL'], add: ['CAP_SYS_ADMIN', 'NET_BIND_SERVICE']}}}), expected: ['capabilities-added']},
    {title: 'harmless capability added', spec: withContainer({securityContext: {...HARDENED.securityContext, capabilities: {drop: ['ALL'], add: ['NET_BIND_SERVICE']}}}), expected: []},
    {title: 'no limits', spec: withContainer({resources: {requests: {cpu: '1'}}}), expected: ['resources-missing']},
    {title: 'init and ephemeral containers are checked; ephemeral needs no limits', spec: {containers: [HARDENED], initContainers: [{...HARDENED, name: 'init', image: 'busybox:latest', imagePullPolicy: 'Always'}], ephemeralContainers: [{...HARDENED, name: 'debug', resources: undefined, securityContext: {...HARDENED.securityContext, privileged: true}}]}, expected: ['image-tag-latest', 'image-digest-missing', 'privileged']},
    {title: 'private registry without pull secret', spec: withContainer({image: `myprivateregistry.com:5000/nginx@sha256:${D}`}), options: {policy: {privateRegistries: ['myprivateregistry.com:5000']}}, expected: ['image-pull-secret-missing']},
    {title: 'private registry with a matching pull secret', spec: withContainer({image: `myprivateregistry.com:5000/nginx@sha256:${D}`}), options: {policy: {privateRegistries: ['myprivateregistry.com:5000']}, names: ['regcred'], servers: ['myprivateregistry.com:5000']}, expected: []},
    {title: 'private registry with a pull secret for another registry', spec: withContainer({image: `myprivateregistry.com:5000/nginx@sha256:${D}`}), options: {policy: {privateRegistries: ['myprivateregistry.com:5000']}, names: ['hub'], servers: ['https://index.docker.io/v1/']}, expected: ['image-pull-secret-missing']},
    {title: 'cluster: a namespace pull secret exists for the registry but the pod does not use it', spec: withContainer({image: `reg.example.com/app@sha256:${D}`}), options: {names: [], servers: [], namespaceServers: ['reg.example.com']}, expected: ['image-pull-secret-missing']},
    {title: 'public registry is never flagged for pull secrets', spec: withContainer({image: `nginx@sha256:${D}`}), options: {names: [], servers: [], namespaceServers: ['reg.example.com']}, expected: []},
  ]
  for (const {title, spec, options, expected} of cases) {
    it(title, () => expect(checksOf(audit(spec, options))).to.deep.equal(expected))
  }

  describe('exemptions by annotation', () => {
    const spec = withContainer({image: 'nginx:latest', imagePullPolicy: 'Always'})
    it('whole-workload and per-container entries', () => {
      expect(checksOf(audit(spec, {annotations: {'imgsec.io/ignore': 'image-tag-latest'}}))).to.deep.equal(['image-digest-missing'])
      expect(checksOf(audit(spec, {annotations: {'imgsec.io/ignore': 'app/image-digest-missing, other/image-tag-latest'}}))).to.deep.equal(['image-tag-latest'])
    })
    it('the policy can forbid self-exemption', () => {
      expect(checksOf(audit(spec, {annotations: {'imgsec.io/ignore': 'image-tag-latest'}, policy: {allowAnnotationExemptions: false}}))).to.deep.equal(['image-tag-latest', 'image-digest-missing'])
    })
    it('isIgnoredByAnnotation matches exact ids only', () => {
      expect(isIgnoredByAnnotation({'imgsec.io/ignore': 'image-tag'}, 'app', 'image-tag-latest')).to.equal(false)
    })
  })

  describe('exemptions in the policy file', () => {
    const spec = withContainer({image: 'nginx:latest', imagePullPolicy: 'Always'})
    const exempt = (entry: Record<string, string>) => checksOf(audit(spec, {policy: {exemptions: [{reason: 'accepted risk', ...entry} as never]}}))
    it('match by check, narrowed by namespace, kind, name and container (globs)', () => {
      expect(exempt({check: 'image-tag-latest'})).to.deep.equal(['image-digest-missing'])
      expect(exempt({check: 'image-tag-latest', namespace: 'def*', kind: 'Deployment', name: 'web', container: 'app'})).to.deep.equal(['image-digest-missing'])
      expect(exempt({check: 'image-tag-latest', namespace: 'prod'})).to.deep.equal(['image-tag-latest', 'image-digest-missing'])
      expect(exempt({check: 'image-tag-latest', container: 'sidecar'})).to.deep.equal(['image-tag-latest', 'image-digest-missing'])
    })
    it('apply even when annotation self-exemption is forbidden', () => {
      const findings = audit(spec, {policy: {allowAnnotationExemptions: false, exemptions: [{check: 'image-digest-missing', reason: 'r'}]}, annotations: {'imgsec.io/ignore': 'image-tag-latest'}})
      expect(checksOf(findings)).to.deep.equal(['image-tag-latest'])
    })
  })

  describe('effectivePullPolicy (Kubernetes defaulting)', () => {
    const cases: Array<[string | undefined, string | undefined, string | undefined, string]> = [
      [undefined, undefined, undefined, 'Always'],
      [undefined, 'latest', undefined, 'Always'],
      [undefined, '1.2', undefined, 'IfNotPresent'],
      [undefined, undefined, `sha256:${D}`, 'IfNotPresent'],
      ['Never', 'latest', undefined, 'Never'],
    ]
    for (const [explicit, tag, digest, expected] of cases) {
      it(`${explicit ?? 'unset'} / tag ${tag ?? '-'} / digest ${digest ? 'yes' : 'no'} → ${expected}`, () => expect(effectivePullPolicy(explicit, tag, digest)).to.equal(expected))
    }
  })

  describe('credentialMatchesImage (kubelet keyring rules)', () => {
    const cases: Array<[string, string, boolean]> = [
      ['https://index.docker.io/v1/', 'nginx', true],
      ['docker.io', 'bitnami/redis:7', true],
      ['index.docker.io', 'docker.io/library/nginx', true],
      ['https://index.docker.io/v1/', 'quay.io/x/y', false],
      ['myprivateregistry.com:5000', 'myprivateregistry.com:5000/nginx:alpine', true],
      ['http://myprivateregistry.com:5000', 'myprivateregistry.com:5000/nginx:alpine', true],
      ['myprivateregistry.com', 'myprivateregistry.com:5000/nginx:alpine', false],
      ['myprivateregistry.com:5000', 'myprivateregistry.com/nginx', false],
      ['*.example.com', 'reg.example.com/app', true],
      ['*.example.com', 'a.reg.example.com/app', false],
      ['reg.example.com/team-a', 'reg.example.com/team-a/app', true],
      ['reg.example.com/team-a', 'reg.example.com/team-b/app', false],
      ['https://reg.example.com/v2/', 'reg.example.com/app', true],
    ]
    for (const [server, image, expected] of cases) {
      it(`${server} ${expected ? 'matches' : 'does not match'} ${image}`, () => expect(credentialMatchesImage(server, parseImageReference(image))).to.equal(expected))
    }
  })
})

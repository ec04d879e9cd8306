import {expect} from 'chai'

import {readFileSync} from 'node:fs'

import {
  auditWorkload,
  checksWithout,
  type Finding,
  isIgnoredByAnnotation,
  runChecks,
} from '../../../../src/lib/audit/audit.js'
import {
  CHECK_IDS,
  CHECKS,
  CONTAINER_CHECKS,
  CROSS_WORKLOAD_CHECKS,
  type ContainerInstance,
  scanTargetOf,
} from '../../../../src/lib/audit/checks/index.js'
import {UserError} from '../../../../src/lib/errors.js'
import {usablePullSecrets, type Workload} from '../../../../src/lib/audit/workloads.js'
import {effectivePullPolicy} from '../../../../src/lib/audit/checks/image-pull-policy.js'
import {credentialMatchesImage} from '../../../../src/lib/image/docker-config.js'
import {parseImageReference} from '../../../../src/lib/image/image-reference.js'
import {DEFAULT_POLICY, type ImagePolicy} from '../../../../src/lib/policy/policy.js'
import type {Container, PodSpec} from '../../../../src/lib/audit/workloads.js'

const D = 'e'.repeat(64)
const HARDENED: Container = {
  name: 'app',
  image: `registry.k8s.io/pause:3.9@sha256:${D}`,
  securityContext: {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: {drop: ['ALL']},
  },
  resources: {limits: {cpu: '100m', memory: '64Mi'}},
}
const AUDIT_POLICY: ImagePolicy = {...DEFAULT_POLICY, exemptNamespaces: []}

function audit(
  podSpec: PodSpec,
  options: {
    policy?: Partial<ImagePolicy>
    annotations?: Record<string, string>
    names?: string[]
    servers?: string[]
    namespaceServers?: string[]
  } = {},
): Finding[] {
  return auditWorkload({
    workload: {
      kind: 'Deployment',
      namespace: 'default',
      name: 'web',
      annotations: options.annotations ?? {},
      podSpec,
      podSpecPath: ['spec', 'template', 'spec'],
    },
    context: {
      mode: 'cluster',
      policy: {...AUDIT_POLICY, ...options.policy},
      usablePullSecretNames: options.names ?? [],
      usablePullSecretServers: options.servers,
      namespacePullSecretServers: options.namespaceServers,
    },
  })
}
const checksOf = (findings: Finding[]) => findings.map((f) => f.check)
const withContainer = (override: Partial<Container>): PodSpec => ({containers: [{...HARDENED, ...override}]})

describe('audit checks', () => {
  it('a hardened container has no findings', () => {
    expect(audit(withContainer({}))).to.deep.equal([])
  })

  describe('the registry (rule metadata)', () => {
    it('every check has a unique id, a kind, a severity, a title, a description, a fix and its help URL', () => {
      expect(new Set(CHECK_IDS).size).to.equal(CHECKS.length)
      for (const check of CHECKS) {
        expect(check.id).to.match(/^[a-z]+(-[a-z]+)*$/)
        expect(['container', 'cross-workload', 'cross-cluster']).to.include(check.kind)
        expect(['critical', 'high', 'medium', 'low', 'info']).to.include(check.severity)
        for (const text of [check.title, check.description, check.fix])
          expect(text.length, check.id).to.be.greaterThan(10)
        expect(check.helpUri).to.equal(
          `https://github.com/kubectl-imgsec/kubectl-imgsec/blob/main/docs/checks.md#${check.id}`,
        )
      }
    })

    it('two kinds: 21 per-container checks, then the cross-workload ones', () => {
      expect(CONTAINER_CHECKS).to.have.length(21)
      const crossWorkload = [
        'image-tag-digest-mismatch',
        'image-vulnerable',
        'image-signature-missing',
        'image-signature-invalid',
      ]
      expect(CROSS_WORKLOAD_CHECKS.map((c) => c.id)).to.deep.equal(crossWorkload)
      expect(CHECK_IDS.slice(-5, -1)).to.deep.equal(crossWorkload)
    })

    it('docs/checks.md has one section per check (the help URL anchor), the README table one row per check', () => {
      const docs = readFileSync(new URL('../../../../docs/checks.md', import.meta.url), 'utf8')
      expect([...docs.matchAll(/^## (\S+)$/gm)].map((m) => m[1])).to.deep.equal([...CHECK_IDS])
      const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8')
      const rows = [...readme.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1])
      expect([...rows].sort()).to.deep.equal([...CHECK_IDS].sort())
    })

    it('checksWithout leaves out the named checks and refuses unknown IDs with a suggestion', () => {
      expect(checksWithout([]).map((c) => c.id)).to.deep.equal(CHECK_IDS)
      expect(checksWithout(['privileged', 'image-vulnerable']).map((c) => c.id)).to.deep.equal(
        CHECK_IDS.filter((id) => id !== 'privileged' && id !== 'image-vulnerable'),
      )
      expect(() => checksWithout(['run-as-rot'])).to.throw(
        UserError,
        '--ignore-check: unknown check "run-as-rot"; did you mean "run-as-root"?',
      )
      expect(() => checksWithout(['Privileged'])).to.throw(UserError, 'did you mean "privileged"?')
      expect(() => checksWithout(['xyz'])).to.throw(
        UserError,
        /^--ignore-check: unknown check "xyz"; the checks are image-reference-invalid, image-registry-not-allowed, .*, image-signature-invalid, image-tag-digest-drift$/,
      )
    })
  })

  describe('usablePullSecrets (pod plus service account)', () => {
    const accounts: Record<string, string[]> = {default: ['sa-default'], builder: ['sa-builder', 'shared']}
    const cases: Array<[string, PodSpec, string[]]> = [
      ["no secrets of its own: the default service account's", {}, ['sa-default']],
      [
        "its own first, then the named account's, each once",
        {imagePullSecrets: [{name: 'own'}, {name: 'shared'}], serviceAccountName: 'builder'},
        ['own', 'shared', 'sa-builder'],
      ],
      ['the deprecated serviceAccount field', {serviceAccount: 'builder'}, ['sa-builder', 'shared']],
      [
        'an unknown account adds nothing; empty names are dropped',
        {imagePullSecrets: [{name: ''}, {}], serviceAccountName: 'ghost'},
        [],
      ],
    ]
    for (const [title, spec, expected] of cases)
      it(title, () => expect(usablePullSecrets(spec, (account) => accounts[account])).to.deep.equal(expected))
  })

  describe('image-vulnerable (cross-workload, from --scan results)', () => {
    const workload = (name: string): Workload => ({
      kind: 'Deployment',
      namespace: 'default',
      name,
      annotations: {},
      podSpec: {},
      podSpecPath: [],
    })
    const web = workload('web')
    const instances: ContainerInstance[] = [
      {workload: web, container: 'app', image: 'nginx:1.25', runningDigest: `sha256:${D}`},
      {workload: web, container: 'app', image: 'nginx:1.25', runningDigest: `sha256:${D}`},
      {workload: workload('api'), container: 'app', image: `nginx:1.25@sha256:${'f'.repeat(64)}`},
      {workload: workload('job'), container: 'app', image: 'busybox', file: 'job.yaml', line: 9},
    ]
    it('scans the digest a container runs when known, else the image as written', () => {
      expect(instances.map(scanTargetOf)).to.deep.equal([
        `nginx@sha256:${D}`,
        `nginx@sha256:${D}`,
        `nginx:1.25@sha256:${'f'.repeat(64)}`,
        'busybox',
      ])
      expect(scanTargetOf({image: `nginx:1.25@sha256:${'f'.repeat(64)}`, runningDigest: `sha256:${D}`})).to.equal(
        `nginx:1.25@sha256:${D}`,
      )
    })
    it("one finding per workload container and image, with the scanner's severity; none without --scan", () => {
      const vulnerabilities = new Map([
        [`nginx@sha256:${D}`, {severity: 'critical' as const, message: 'nginx: 1 CRITICAL'}],
        ['busybox', {severity: 'low' as const, message: 'busybox: 2 LOW'}],
      ])
      const findings = runChecks({workloads: [], instances}, AUDIT_POLICY, CROSS_WORKLOAD_CHECKS, {vulnerabilities})
      expect(findings.map((f) => [f.check, f.resource.name, f.severity, f.message, f.file, f.line])).to.deep.equal([
        ['image-vulnerable', 'web', 'critical', 'nginx: 1 CRITICAL', undefined, undefined],
        ['image-vulnerable', 'job', 'low', 'busybox: 2 LOW', 'job.yaml', 9],
      ])
      expect(runChecks({workloads: [], instances}, AUDIT_POLICY, CROSS_WORKLOAD_CHECKS, {})).to.deep.equal([])
    })
    it('an exempt image or namespace covers it (an image check), and it is counted', () => {
      const vulnerabilities = new Map([
        [`nginx@sha256:${D}`, {severity: 'critical' as const, message: 'nginx: 1 CRITICAL'}],
        ['busybox', {severity: 'low' as const, message: 'busybox: 2 LOW'}],
      ])
      const tally = {exempted: 0}
      const findings = runChecks(
        {workloads: [], instances},
        {...AUDIT_POLICY, exemptImages: ['busybox']},
        CROSS_WORKLOAD_CHECKS,
        {vulnerabilities},
        tally,
      )
      expect(findings.map((f) => f.resource.name)).to.deep.equal(['web'])
      expect(tally.exempted).to.equal(1)
      expect(
        runChecks({workloads: [], instances}, {...AUDIT_POLICY, exemptNamespaces: ['default']}, CROSS_WORKLOAD_CHECKS, {
          vulnerabilities,
        }),
      ).to.deep.equal([])
    })
  })

  const cases: Array<{title: string; spec: PodSpec; options?: Parameters<typeof audit>[1]; expected: string[]}> = [
    {
      title: ':latest',
      spec: withContainer({image: 'nginx:latest', imagePullPolicy: 'Always'}),
      expected: ['image-tag-latest', 'image-digest-missing'],
    },
    {
      title: 'no tag (pull policy defaults to Always)',
      spec: withContainer({image: 'nginx'}),
      expected: ['image-tag-missing', 'image-digest-missing'],
    },
    {
      title: 'digest only is pinned: no missing tag, no pull-policy finding',
      spec: withContainer({image: `nginx@sha256:${D}`, imagePullPolicy: 'IfNotPresent'}),
      expected: [],
    },
    {
      title: 'version tag without digest, default IfNotPresent',
      spec: withContainer({image: 'nginx:1.27'}),
      expected: ['image-digest-missing', 'image-pull-policy'],
    },
    {
      title: 'version tag with Always',
      spec: withContainer({image: 'nginx:1.27', imagePullPolicy: 'Always'}),
      expected: ['image-digest-missing'],
    },
    {
      title: ':latest with explicit IfNotPresent',
      spec: withContainer({image: 'nginx:latest', imagePullPolicy: 'IfNotPresent'}),
      expected: ['image-tag-latest', 'image-digest-missing', 'image-pull-policy'],
    },
    {
      title: 'invalid reference is a finding',
      spec: withContainer({image: 'NGINX:1'}),
      expected: ['image-reference-invalid'],
    },
    {
      title: 'registry not allowed (allowlist given)',
      spec: withContainer({image: `quay.io/x/y@sha256:${D}`}),
      options: {policy: {allowedRegistries: ['registry.k8s.io']}},
      expected: ['image-registry-not-allowed'],
    },
    {
      title: 'no allowlist: registry not checked',
      spec: withContainer({image: `quay.io/x/y@sha256:${D}`}),
      expected: [],
    },
    {
      title: 'privileged',
      spec: withContainer({securityContext: {...HARDENED.securityContext, privileged: true}}),
      expected: ['privileged'],
    },
    {
      title: 'runAsUser 0 beats runAsNonRoot',
      spec: withContainer({securityContext: {...HARDENED.securityContext, runAsUser: 0}}),
      expected: ['run-as-root'],
    },
    {
      title: 'runAsNonRoot missing',
      spec: withContainer({securityContext: {...HARDENED.securityContext, runAsNonRoot: undefined}}),
      expected: ['run-as-root'],
    },
    {
      title: 'pod-level runAsNonRoot applies',
      spec: {
        securityContext: {runAsNonRoot: true},
        containers: [{...HARDENED, securityContext: {...HARDENED.securityContext, runAsNonRoot: undefined}}],
      },
      expected: [],
    },
    {
      title: 'container overrides pod runAsNonRoot',
      spec: {
        securityContext: {runAsNonRoot: true},
        containers: [{...HARDENED, securityContext: {...HARDENED.securityContext, runAsNonRoot: false}}],
      },
      expected: ['run-as-root'],
    },
    {
      title: 'pod-level runAsUser 0',
      spec: {securityContext: {runAsUser: 0}, containers: [HARDENED]},
      expected: ['run-as-root'],
    },
    {
      title: 'allowPrivilegeEscalation unset',
      spec: withContainer({securityContext: {...HARDENED.securityContext, allowPrivilegeEscalation: undefined}}),
      expected: ['privilege-escalation'],
    },
    {
      title: 'writable root fs',
      spec: withContainer({securityContext: {...HARDENED.securityContext, readOnlyRootFilesystem: false}}),
      expected: ['root-filesystem-writable'],
    },
    {
      title: 'capabilities not dropped',
      spec: withContainer({securityContext: {...HARDENED.securityContext, capabilities: {drop: ['NET_RAW']}}}),
      expected: ['capabilities-not-dropped'],
    },
    {
      title: 'dangerous capability added (CAP_ prefix too)',
      spec: withContainer({
        securityContext: {
          ...HARDENED.securityContext,
          capabilities: {drop: ['ALL'], add: ['CAP_SYS_ADMIN', 'NET_BIND_SERVICE']},
        },
      }),
      expected: ['capabilities-added'],
    },
    {
      title: 'harmless capability added',
      spec: withContainer({
        securityContext: {...HARDENED.securityContext, capabilities: {drop: ['ALL'], add: ['NET_BIND_SERVICE']}},
      }),
      expected: [],
    },
    // Issue 11.
    {
      title: 'nginx:latest@sha256: the runtime pulls the digest: not :latest',
      spec: withContainer({image: `nginx:latest@sha256:${D}`, imagePullPolicy: 'IfNotPresent'}),
      expected: [],
    },
    {
      title: 'drop: [CAP_ALL] drops nothing (only the literal ALL counts)',
      spec: withContainer({securityContext: {...HARDENED.securityContext, capabilities: {drop: ['CAP_ALL']}}}),
      expected: ['capabilities-not-dropped'],
    },
    {
      title: 'drop: [all] drops nothing',
      spec: withContainer({securityContext: {...HARDENED.securityContext, capabilities: {drop: ['all']}}}),
      expected: ['capabilities-not-dropped'],
    },
    {
      title: 'exemptImages covers the image checks, not privileged',
      spec: withContainer({
        image: 'evil.example.com/agent:latest',
        imagePullPolicy: 'Always',
        securityContext: {...HARDENED.securityContext, privileged: true},
      }),
      options: {policy: {exemptImages: ['evil.example.com/*']}},
      expected: ['privileged'],
    },
    {
      title: 'an exempt namespace covers the image checks, not the hardening checks',
      spec: withContainer({
        image: 'evil.example.com/agent:latest',
        imagePullPolicy: 'Always',
        securityContext: {
          capabilities: {add: ['SYS_ADMIN'], drop: ['ALL']},
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
        },
      }),
      options: {policy: {exemptNamespaces: ['default']}},
      expected: ['capabilities-added'],
    },
    {title: 'no limits', spec: withContainer({resources: {requests: {cpu: '1'}}}), expected: ['resources-missing']},
    {
      title: 'init and ephemeral containers are checked; ephemeral needs no limits',
      spec: {
        containers: [HARDENED],
        initContainers: [{...HARDENED, name: 'init', image: 'busybox:latest', imagePullPolicy: 'Always'}],
        ephemeralContainers: [
          {
            ...HARDENED,
            name: 'debug',
            resources: undefined,
            securityContext: {...HARDENED.securityContext, privileged: true},
          },
        ],
      },
      expected: ['image-tag-latest', 'image-digest-missing', 'privileged'],
    },
    {
      title: 'private registry without pull secret',
      spec: withContainer({image: `myprivateregistry.com:5000/nginx@sha256:${D}`}),
      options: {policy: {privateRegistries: ['myprivateregistry.com:5000']}},
      expected: ['image-pull-secret-missing'],
    },
    {
      title: 'private registry with a matching pull secret',
      spec: withContainer({image: `myprivateregistry.com:5000/nginx@sha256:${D}`}),
      options: {
        policy: {privateRegistries: ['myprivateregistry.com:5000']},
        names: ['regcred'],
        servers: ['myprivateregistry.com:5000'],
      },
      expected: [],
    },
    {
      title: 'private registry with a pull secret for another registry',
      spec: withContainer({image: `myprivateregistry.com:5000/nginx@sha256:${D}`}),
      options: {
        policy: {privateRegistries: ['myprivateregistry.com:5000']},
        names: ['hub'],
        servers: ['https://index.docker.io/v1/'],
      },
      expected: ['image-pull-secret-missing'],
    },
    {
      title: 'cluster: a namespace pull secret exists for the registry but the pod does not use it',
      spec: withContainer({image: `reg.example.com/app@sha256:${D}`}),
      options: {names: [], servers: [], namespaceServers: ['reg.example.com']},
      expected: ['image-pull-secret-missing'],
    },
    {
      title: 'public registry is never flagged for pull secrets',
      spec: withContainer({image: `nginx@sha256:${D}`}),
      options: {names: [], servers: [], namespaceServers: ['reg.example.com']},
      expected: [],
    },
  ]
  for (const {title, spec, options, expected} of cases) {
    it(title, () => expect(checksOf(audit(spec, options))).to.deep.equal(expected))
  }

  it('runAsUser non-zero without runAsNonRoot: a true message, medium', () => {
    const findings = audit(
      withContainer({securityContext: {...HARDENED.securityContext, runAsNonRoot: undefined, runAsUser: 30_000}}),
    )
    expect(findings.map((f) => [f.check, f.severity, f.message])).to.deep.equal([
      [
        'run-as-root',
        'medium',
        'container "app" runs as UID 30000 (runAsUser), not root, but does not set runAsNonRoot: true, which Pod Security "restricted" requires',
      ],
    ])
  })

  it('exempted findings are counted', () => {
    const tally = {exempted: 0}
    const findings = auditWorkload(
      {
        workload: {
          kind: 'DaemonSet',
          namespace: 'kube-system',
          name: 'agent',
          annotations: {'imgsec.io/ignore': 'resources-missing'},
          podSpec: withContainer({
            image: 'evil.example.com/agent:latest',
            imagePullPolicy: 'Always',
            resources: undefined,
          }),
          podSpecPath: ['spec', 'template', 'spec'],
        },
        context: {
          mode: 'file',
          policy: {...AUDIT_POLICY, exemptNamespaces: ['kube-system']},
          usablePullSecretNames: [],
        },
      },
      CONTAINER_CHECKS,
      tally,
    )
    expect(findings).to.deep.equal([])
    // image-tag-latest and image-digest-missing by the namespace, resources-missing by the annotation.
    expect(tally.exempted).to.equal(3)
  })

  describe('exemptions by annotation', () => {
    const spec = withContainer({image: 'nginx:latest', imagePullPolicy: 'Always'})
    it('whole-workload and per-container entries', () => {
      expect(checksOf(audit(spec, {annotations: {'imgsec.io/ignore': 'image-tag-latest'}}))).to.deep.equal([
        'image-digest-missing',
      ])
      expect(
        checksOf(audit(spec, {annotations: {'imgsec.io/ignore': 'app/image-digest-missing, other/image-tag-latest'}})),
      ).to.deep.equal(['image-tag-latest'])
    })
    it('the policy can forbid self-exemption', () => {
      expect(
        checksOf(
          audit(spec, {
            annotations: {'imgsec.io/ignore': 'image-tag-latest'},
            policy: {allowAnnotationExemptions: false},
          }),
        ),
      ).to.deep.equal(['image-tag-latest', 'image-digest-missing'])
    })
    it('isIgnoredByAnnotation matches exact ids only', () => {
      expect(isIgnoredByAnnotation({'imgsec.io/ignore': 'image-tag'}, 'app', 'image-tag-latest')).to.equal(false)
    })
  })

  describe('exemptions in the policy file', () => {
    const spec = withContainer({image: 'nginx:latest', imagePullPolicy: 'Always'})
    const exempt = (entry: Record<string, string>) =>
      checksOf(audit(spec, {policy: {exemptions: [{reason: 'accepted risk', ...entry} as never]}}))
    it('match by check, narrowed by namespace, kind, name and container (globs)', () => {
      expect(exempt({check: 'image-tag-latest'})).to.deep.equal(['image-digest-missing'])
      expect(
        exempt({check: 'image-tag-latest', namespace: 'def*', kind: 'Deployment', name: 'web', container: 'app'}),
      ).to.deep.equal(['image-digest-missing'])
      expect(exempt({check: 'image-tag-latest', namespace: 'prod'})).to.deep.equal([
        'image-tag-latest',
        'image-digest-missing',
      ])
      expect(exempt({check: 'image-tag-latest', container: 'sidecar'})).to.deep.equal([
        'image-tag-latest',
        'image-digest-missing',
      ])
    })
    it('apply even when annotation self-exemption is forbidden', () => {
      const findings = audit(spec, {
        policy: {allowAnnotationExemptions: false, exemptions: [{check: 'image-digest-missing', reason: 'r'}]},
        annotations: {'imgsec.io/ignore': 'image-tag-latest'},
      })
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
      it(`${explicit ?? 'unset'} / tag ${tag ?? '-'} / digest ${digest ? 'yes' : 'no'} → ${expected}`, () =>
        expect(effectivePullPolicy(explicit, tag, digest)).to.equal(expected))
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
      it(`${server} ${expected ? 'matches' : 'does not match'} ${image}`, () =>
        expect(credentialMatchesImage(server, parseImageReference(image))).to.equal(expected))
    }
  })
})

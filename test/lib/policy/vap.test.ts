import {run} from '@bufbuild/cel'
import {strings} from '@bufbuild/cel/ext'
import {expect} from 'chai'

import {DEFAULT_POLICY, evaluateImage, type ImagePolicy} from '../../../src/lib/policy/policy.js'
import {IMAGES_EXPRESSION, renderVapObjects} from '../../../src/lib/policy/vap.js'
import {casePolicy, VAP_CASE_IMAGES, VAP_CASE_POLICIES} from '../../support/vap-cases.js'

/** CEL maps are JS Maps: convert a JSON object (a Kubernetes object) recursively. */
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel)
  if (value && typeof value === 'object') return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)]))
  return value
}

type Rendered = Record<string, any>

function renderedPolicy(policy: ImagePolicy): Rendered {
  return (renderVapObjects(policy, {paramsNamespace: 'kube-system'}) as Rendered[]).find(
    (o) => o.kind === 'ValidatingAdmissionPolicy',
  )!
}

function celRun(expression: string, activation: Record<string, unknown>): unknown {
  const result = run(expression, activation as never, {funcs: strings})
  if (result instanceof Error) throw result
  return result
}

/**
 * Evaluate the rendered policy as kube-apiserver does: the variables in order, then each
 * validation and, for a refusal, its messageExpression. `oldObject` makes it an UPDATE.
 */
function admit(
  policy: ImagePolicy,
  object: object,
  oldObject?: object,
): {allowed: boolean; messages: string[]; variables: Map<string, unknown>} {
  const vap = renderedPolicy(policy)
  const variables = new Map<string, unknown>()
  const activation = {
    object: toCel(object),
    oldObject: oldObject ? toCel(oldObject) : null,
    request: toCel({operation: oldObject ? 'UPDATE' : 'CREATE'}),
    params: toCel({data: {allowedRegistries: (policy.allowedRegistries ?? []).join(',')}}),
    variables,
  }
  for (const variable of vap.spec.variables as Array<{name: string; expression: string}>)
    variables.set(variable.name, celRun(variable.expression, activation))
  const messages: string[] = []
  for (const validation of vap.spec.validations as Array<{expression: string; messageExpression: string}>) {
    if (celRun(validation.expression, activation) !== true)
      messages.push(String(celRun(validation.messageExpression, activation)))
  }
  return {allowed: messages.length === 0, messages, variables}
}

const pod = (images: string[]) => ({
  kind: 'Pod',
  metadata: {name: 'p'},
  spec: {containers: images.map((image, k) => ({name: `c${k}`, image}))},
})

function celVerdict(policy: ImagePolicy, images: string[]): {allowed: boolean; messages: string[]} {
  return admit(policy, pod(images))
}

describe('ValidatingAdmissionPolicy CEL', () => {
  for (const [title, override] of VAP_CASE_POLICIES) {
    describe(`policy: ${title}`, () => {
      const policy = casePolicy(override)
      for (const image of VAP_CASE_IMAGES) {
        it(`agrees with the policy engine on ${image}`, () => {
          const engine = evaluateImage(image, {namespace: 'default'}, policy)
          const vap = celVerdict(policy, [image])
          expect(vap.allowed, vap.messages.join('; ')).to.equal(engine.allowed)
          const rules = vap.messages.map((m) => m.split(':')[0])
          // The rules CEL names are the engine's (when the reference is valid, every rule is checked in both).
          if (engine.violations[0]?.rule !== 'image-reference-invalid')
            expect(rules.sort()).to.deep.equal(engine.violations.map((v) => v.rule).sort())
        })
      }
    })
  }

  it('the message names every refused image', () => {
    const policy: ImagePolicy = {...DEFAULT_POLICY, allowedRegistries: ['docker.io']}
    const {messages} = celVerdict(policy, ['nginx:1.25', 'quay.io/a/b:1', 'gcr.io/c/d:2'])
    expect(messages).to.deep.equal([
      'image-registry-not-allowed: registry not in the allowed registries: quay.io/a/b:1, gcr.io/c/d:2',
    ])
  })

  describe('the images variable covers every container list of pods and workloads', () => {
    const spec = {
      containers: [{name: 'a', image: 'a:1'}],
      initContainers: [{name: 'b', image: 'b:1'}],
      ephemeralContainers: [{name: 'c', image: 'c:1'}],
    }
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
      const images = run(
        `(${IMAGES_EXPRESSION}).map(c, c.image)`,
        {object: toCel({kind: 'Pod', spec: {containers: [{image: 'x:1'}]}})} as never,
        {funcs: strings},
      )
      expect([...(images as Iterable<unknown>)]).to.deep.equal(['x:1'])
    })
  })

  describe('UPDATE: only the images the update adds are checked (CREATE checks all)', () => {
    const policy: ImagePolicy = {...DEFAULT_POLICY, allowedRegistries: ['docker.io']}
    const deployment = (images: string[], replicas = 1, ephemeral: string[] = []) => ({
      kind: 'Deployment',
      metadata: {name: 'd'},
      spec: {
        replicas,
        template: {
          spec: {
            containers: images.map((image, k) => ({name: `c${k}`, image})),
            ...(ephemeral.length > 0
              ? {ephemeralContainers: ephemeral.map((image, k) => ({name: `e${k}`, image}))}
              : {}),
          },
        },
      },
    })
    it('CREATE of a non-compliant Deployment is refused', () => {
      expect(admit(policy, deployment(['quay.io/a/b:1'])).messages).to.deep.equal([
        'image-registry-not-allowed: registry not in the allowed registries: quay.io/a/b:1',
      ])
    })
    it('scaling (or labelling) a Deployment whose images are not allowed any more is admitted', () => {
      const verdict = admit(
        policy,
        deployment(['quay.io/a/b:1', 'nginx:latest'], 3),
        deployment(['quay.io/a/b:1', 'nginx:latest'], 1),
      )
      expect(verdict.allowed, verdict.messages.join('; ')).to.equal(true)
      expect([...(verdict.variables.get('checked') as Iterable<unknown>)]).to.deep.equal([])
    })
    it('changing an image to a refused one is refused, naming only that image', () => {
      const verdict = admit(
        policy,
        deployment(['quay.io/a/b:1', 'gcr.io/c/d:latest']),
        deployment(['quay.io/a/b:1', 'nginx:1.25']),
      )
      expect(verdict.messages).to.deep.equal([
        'image-registry-not-allowed: registry not in the allowed registries: gcr.io/c/d:latest',
        'image-tag-latest: the mutable tag :latest; name a version: gcr.io/c/d:latest',
      ])
    })
    it('changing an image to an allowed one is admitted even while another container keeps a refused one', () => {
      expect(
        admit(policy, deployment(['quay.io/a/b:1', 'nginx:1.27']), deployment(['quay.io/a/b:1', 'nginx:1.25'])).allowed,
      ).to.equal(true)
    })
    it('an ephemeral container (kubectl debug: an UPDATE of pods/ephemeralcontainers) is checked', () => {
      const before = {kind: 'Pod', metadata: {name: 'p'}, spec: {containers: [{name: 'a', image: 'quay.io/a/b:1'}]}}
      const withDebugger = (image: string) => ({
        ...before,
        spec: {...before.spec, ephemeralContainers: [{name: 'debugger', image}]},
      })
      expect(admit(policy, withDebugger('busybox:1.36'), before).allowed).to.equal(true)
      expect(admit(policy, withDebugger('ghcr.io/x/debug:1'), before).messages).to.deep.equal([
        'image-registry-not-allowed: registry not in the allowed registries: ghcr.io/x/debug:1',
      ])
    })
    it('a CronJob update that keeps its images is admitted; a new image in its job template is checked', () => {
      const cronJob = (image: string, schedule: string) => ({
        kind: 'CronJob',
        metadata: {name: 'c'},
        spec: {schedule, jobTemplate: {spec: {template: {spec: {containers: [{name: 'a', image}]}}}}},
      })
      expect(
        admit(policy, cronJob('quay.io/a/b:1', '*/5 * * * *'), cronJob('quay.io/a/b:1', '* * * * *')).allowed,
      ).to.equal(true)
      expect(
        admit(policy, cronJob('quay.io/a/c:1', '* * * * *'), cronJob('quay.io/a/b:1', '* * * * *')).allowed,
      ).to.equal(false)
    })
  })

  it('every validation has a static message for when its messageExpression fails or is too long', () => {
    const vap = renderedPolicy({...DEFAULT_POLICY, allowedRegistries: ['docker.io'], requireDigest: true})
    for (const validation of vap.spec.validations)
      expect(validation.messageExpression.startsWith(`'${validation.message}: '`), validation.message).to.equal(true)
  })

  it('matchConditions skip mirror pods', () => {
    const byKind = (objects: object[], kind: string) =>
      (objects as Array<Record<string, any>>).find((o) => o.kind === kind)!
    const vap = byKind(
      renderVapObjects({...DEFAULT_POLICY}, {paramsNamespace: 'kube-system'}),
      'ValidatingAdmissionPolicy',
    )
    const applies = (object: object) =>
      vap.spec.matchConditions.every(
        (condition: {expression: string}) =>
          run(condition.expression, {object: toCel(object)} as never, {funcs: strings}) === true,
      )
    expect(applies({kind: 'Pod', metadata: {name: 'p'}})).to.equal(true)
    expect(applies({kind: 'Pod', metadata: {annotations: {'kubernetes.io/config.mirror': 'abc'}}})).to.equal(false)
    expect(vap.spec.matchConditions.map((c: {name: string}) => c.name)).to.deep.equal(['not-a-mirror-pod'])
  })

  describe('break-glass', () => {
    const policy = {...DEFAULT_POLICY, allowedRegistries: ['docker.io']}
    const GLASS = {'alpha.image-policy.k8s.io/break-glass': 'true'}
    const template = (kind: string, annotations?: Record<string, string>, own?: Record<string, string>) => {
      const podTemplate = {
        metadata: annotations ? {annotations} : {},
        spec: {containers: [{name: 'c', image: 'quay.io/x/y:1'}]},
      }
      const spec = kind === 'CronJob' ? {jobTemplate: {spec: {template: podTemplate}}} : {template: podTemplate}
      return {kind, metadata: {name: 'w', ...(own ? {annotations: own} : {})}, spec}
    }
    const verdict = (object: object, breakGlass: boolean) => {
      const vap = (renderVapObjects(policy, {paramsNamespace: 'kube-system', breakGlass}) as Rendered[]).find(
        (o) => o.kind === 'ValidatingAdmissionPolicy',
      )!
      const variables = new Map<string, unknown>()
      const activation = {
        object: toCel(object),
        oldObject: null,
        request: toCel({operation: 'CREATE'}),
        params: toCel({data: {allowedRegistries: 'docker.io'}}),
        variables,
      }
      for (const variable of vap.spec.variables) variables.set(variable.name, celRun(variable.expression, activation))
      const allowed = vap.spec.validations.every(
        (validation: {expression: string}) => celRun(validation.expression, activation) === true,
      )
      const audit = (vap.spec.auditAnnotations ?? []).map((a: {key: string; valueExpression: string}) => [
        a.key,
        celRun(a.valueExpression, activation),
      ])
      return {allowed, audit}
    }
    it('is off by default: the annotation changes nothing', () => {
      expect(
        verdict(
          {
            kind: 'Pod',
            metadata: {name: 'p', annotations: GLASS},
            spec: {containers: [{name: 'c', image: 'quay.io/x/y:1'}]},
          },
          false,
        ),
      ).to.deep.equal({allowed: false, audit: []})
    })
    it('when on: read from the pod, or the pod template of a workload; each use leaves an audit annotation', () => {
      expect(
        verdict(
          {
            kind: 'Pod',
            metadata: {name: 'p', annotations: GLASS},
            spec: {containers: [{name: 'c', image: 'quay.io/x/y:1'}]},
          },
          true,
        ),
      ).to.deep.equal({allowed: true, audit: [['break-glass', 'true']]})
      for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']) {
        expect(verdict(template(kind, GLASS), true).allowed, `${kind} template`).to.equal(true)
        expect(verdict(template(kind, undefined, GLASS), true), `${kind} own annotation`).to.deep.equal({
          allowed: false,
          audit: [['break-glass', 'false']],
        })
        expect(
          verdict(template(kind, {'alpha.image-policy.k8s.io/break-glass': 'false'}), true).allowed,
          `${kind} "false"`,
        ).to.equal(false)
      }
    })
  })

  it('renders params, policy and binding; kube-system exempt; parameterNotFoundAction Deny', () => {
    const [params, vap, binding] = renderVapObjects(
      {...DEFAULT_POLICY, allowedRegistries: ['docker.io', 'registry.k8s.io']},
      {paramsNamespace: 'kube-system'},
    ) as Array<Record<string, any>>
    expect(params).to.deep.include({kind: 'ConfigMap', data: {allowedRegistries: 'docker.io,registry.k8s.io'}})
    expect(vap.spec.matchConstraints.resourceRules[0].resources).to.deep.equal(['pods', 'pods/ephemeralcontainers'])
    expect(binding.spec.paramRef).to.deep.equal({
      name: 'imgsec-allowed-registries',
      namespace: 'kube-system',
      parameterNotFoundAction: 'Deny',
    })
    expect(binding.spec.matchResources.namespaceSelector.matchExpressions[0]).to.deep.equal({
      key: 'kubernetes.io/metadata.name',
      operator: 'NotIn',
      values: ['kube-system'],
    })
  })
})

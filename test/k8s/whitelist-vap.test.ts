// whitelist --mode vap judged by a real kube-apiserver (and kube-controller-manager): the objects
// are accepted and type-checked, the CEL's verdicts equal the policy engine's on the shared case
// table, workloads, ephemeral containers and the exemptions behave as the README says, an UPDATE
// that adds no image is not refused, and a big pod stays far inside the CEL cost limits.
//
// A control plane of its own: the policy's binding is cluster-wide, so it cannot be isolated by
// namespace on the shared one.
import {expect} from 'chai'

import {evaluateImage, type ImagePolicy} from '../../src/lib/policy/policy.js'
import {PARAMS_NAME, renderVapObjects, VAP_NAME} from '../../src/lib/policy/vap.js'
import type {ControlPlane} from '../control-plane/control-plane.js'
import {runCli} from '../support/cli.js'
import {casePolicy, VAP_CASE_IMAGES, VAP_CASE_POLICIES} from '../support/vap-cases.js'
import {
  describeReal,
  freshNamespace,
  podAuditLog,
  podCreateAuditAnnotations,
  startControlPlane,
  tempDir,
  until,
} from './support.js'

type Json = Record<string, any>

const ALLOWED = 'docker.io,registry.k8s.io'
const LEGACY_IMAGE = 'quay.io/prometheus/node-exporter:v1.8.0'
/** The order of the policy's validations: the server reports the first that refuses. */
const RULE_ORDER = [
  'image-reference-invalid',
  'image-registry-not-allowed',
  'image-tag-missing',
  'image-tag-latest',
  'image-digest-missing',
]

const podOf = (
  name: string,
  images: string[],
  extra: {initImages?: string[]; annotations?: Record<string, string>; nodeName?: string} = {},
) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {name, ...(extra.annotations ? {annotations: extra.annotations} : {})},
  spec: {
    ...(extra.nodeName ? {nodeName: extra.nodeName} : {}),
    containers: images.map((image, k) => ({name: `c${k}`, image})),
    ...(extra.initImages ? {initContainers: extra.initImages.map((image, k) => ({name: `i${k}`, image}))} : {}),
  },
})

const template = (image: string) => ({metadata: {labels: {app: 'x'}}, spec: {containers: [{name: 'app', image}]}})
const workloads = (prefix: string, image: string): Json[] => [
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name: `${prefix}-deploy`},
    spec: {replicas: 1, selector: {matchLabels: {app: 'x'}}, template: template(image)},
  },
  {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {name: `${prefix}-rs`},
    spec: {replicas: 1, selector: {matchLabels: {app: 'x'}}, template: template(image)},
  },
  {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {name: `${prefix}-sts`},
    spec: {serviceName: 'x', selector: {matchLabels: {app: 'x'}}, template: template(image)},
  },
  {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {name: `${prefix}-ds`},
    spec: {selector: {matchLabels: {app: 'x'}}, template: template(image)},
  },
  {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {name: `${prefix}-job`},
    spec: {template: {spec: {restartPolicy: 'Never', containers: [{name: 'app', image}]}}},
  },
  {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {name: `${prefix}-cron`},
    spec: {
      schedule: '*/5 * * * *',
      jobTemplate: {spec: {template: {spec: {restartPolicy: 'Never', containers: [{name: 'app', image}]}}}},
    },
  },
]

interface Verdicts {
  admitted: Set<string>
  /** Object name → the server's refusal line. */
  refused: Map<string, string>
  stderr: string
}

describeReal('whitelist --mode vap against the real kube-apiserver', function () {
  this.timeout(180_000)
  let plane: ControlPlane
  const kube = () => ['--kubeconfig', plane.kubeconfig]
  const kubectl = async (args: string[], input?: string) => plane.kubectl(args, {input})
  const ok = async (args: string[], input?: string) => {
    const result = await kubectl(args, input)
    expect(result.code, `kubectl ${args.join(' ')}: ${result.stderr}`).to.equal(0)
    return result
  }
  const json = async (args: string[]): Promise<Json> => JSON.parse((await ok([...args, '-o', 'json'])).stdout)
  const exists = async (args: string[]) => (await kubectl(['get', ...args, '-o', 'name'])).code === 0

  /** `kubectl create --dry-run=server` of several objects at once; which were admitted, which refused and why. */
  const dryRunCreate = async (namespace: string, items: Json[]): Promise<Verdicts> => {
    const result = await kubectl(
      ['create', '--dry-run=server', '-o', 'name', '-n', namespace, '-f', '-'],
      JSON.stringify({apiVersion: 'v1', kind: 'List', items}),
    )
    const admitted = new Set(
      result.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('/').pop()!),
    )
    const refused = new Map<string, string>()
    for (const line of result.stderr.split('\n')) {
      // 403 (a validation refused): "Error from server (Forbidden): error when creating …"; 422 (an
      // expression failed, e.g. for cost, under failurePolicy Fail): "The pods "x" is invalid: …".
      const match =
        /^(?:Error from server \(\w+\): error when creating "STDIN": |The )[\w.]+ "([^"]+)" is (?:forbidden|invalid): (.*)$/.exec(
          line,
        )
      if (match) refused.set(match[1], match[2])
    }
    expect(admitted.size + refused.size, `every object has a verdict:\n${result.stdout}\n${result.stderr}`).to.equal(
      items.length,
    )
    return {admitted, refused, stderr: result.stderr}
  }
  const verdictOf = async (namespace: string, object: Json) => {
    const verdicts = await dryRunCreate(namespace, [object])
    return verdicts.admitted.has(object.metadata.name) ? 'admitted' : verdicts.refused.get(object.metadata.name)!
  }

  before(async () => {
    plane = await startControlPlane({controllerManager: true})
  })

  describe("the policy engine's case table, judged by the server", () => {
    const cases = VAP_CASE_POLICIES.map(([title, override], k) => ({
      title,
      policy: casePolicy(override),
      name: `imgsec-case-${k}`,
      namespace: '',
    }))

    before(async () => {
      // One policy per case, each bound to its own namespace, all applied at once: the CEL is
      // exactly what `whitelist enable --mode vap` applies; only the names and the binding's
      // namespace selector differ.
      const items: Json[] = []
      for (const c of cases) {
        c.namespace = await freshNamespace(plane, `vap-case`)
        for (const object of renderVapObjects(c.policy, {paramsNamespace: c.namespace}) as Json[]) {
          if (object.kind === 'ValidatingAdmissionPolicy') object.metadata.name = c.name
          if (object.kind === 'ValidatingAdmissionPolicyBinding') {
            object.metadata.name = c.name
            object.spec.policyName = c.name
            object.spec.matchResources = {
              namespaceSelector: {matchLabels: {'kubernetes.io/metadata.name': c.namespace}},
            }
          }
          items.push(object)
        }
      }
      await ok(['apply', '-f', '-'], JSON.stringify({apiVersion: 'v1', kind: 'List', items}))
      // In force once an invalid reference is refused by the validation itself (not for missing params).
      await Promise.all(
        cases.map((c) =>
          until(`policy ${c.name} in force`, async () => {
            const verdict = await verdictOf(c.namespace, podOf('probe', ['nginx@sha256:123']))
            return verdict.includes(`'${c.name}'`) && verdict.includes('image-reference-invalid') ? true : undefined
          }),
        ),
      )
    })

    after(async () => {
      for (const c of cases)
        await kubectl([
          'delete',
          'validatingadmissionpolicybinding,validatingadmissionpolicy',
          c.name,
          '--ignore-not-found',
        ])
    })

    for (const c of cases) {
      it(`policy "${c.title}": every image of the table (${VAP_CASE_IMAGES.length}) gets the engine's verdict`, async () => {
        const pods = VAP_CASE_IMAGES.map((image, k) => podOf(`case-${k}`, [image]))
        const verdicts = await dryRunCreate(c.namespace, pods)
        const mismatches: string[] = []
        VAP_CASE_IMAGES.forEach((image, k) => {
          const engine = evaluateImage(image, {namespace: c.namespace}, c.policy)
          const refusal = verdicts.refused.get(`case-${k}`)
          if (engine.allowed !== !refusal) {
            mismatches.push(
              `${image}: engine ${engine.allowed ? 'admits' : `refuses (${engine.violations.map((v) => v.rule).join(', ')})`}, server ${refusal ? `refuses: ${refusal}` : 'admits'}`,
            )
            return
          }
          if (!refusal) return
          if (!refusal.includes(`ValidatingAdmissionPolicy '${c.name}' with binding '${c.name}' denied request: `))
            mismatches.push(`${image}: refused, but not by the policy: ${refusal}`)
          // The server names the first validation that refuses: the first of the engine's rules in the policy's order.
          const expected = RULE_ORDER.find((rule) => engine.violations.some((v) => v.rule === rule))
          if (!refusal.includes(`denied request: ${expected}: `))
            mismatches.push(`${image}: expected ${expected}, server said: ${refusal}`)
          if (!refusal.endsWith(`: ${image}`))
            mismatches.push(`${image}: the message does not end with the image: ${refusal}`)
        })
        expect(mismatches, mismatches.join('\n')).to.deep.equal([])
      })
    }
  })

  describe('whitelist enable / disable --mode vap', () => {
    let legacy: string
    let work: string
    const enable = (registries = ALLOWED, extra: string[] = []) =>
      runCli(['whitelist', 'enable', '--mode', 'vap', '--allowed-registries', registries, ...extra, ...kube()])
    const policyObjects = async () => ({
      params: await json(['get', 'configmap', PARAMS_NAME, '-n', 'kube-system']),
      vap: await json(['get', 'validatingadmissionpolicy', VAP_NAME]),
      binding: await json(['get', 'validatingadmissionpolicybinding', VAP_NAME]),
    })
    /** Wait until the server judges `image` in `work` as the allowlist in force should. */
    const inForce = (image: string, refused: boolean) =>
      until(`${image} ${refused ? 'refused' : 'admitted'} by ${VAP_NAME}`, async () => {
        const verdict = await verdictOf(work, podOf(`probe-${Date.now()}`, [image]))
        return (
          refused
            ? verdict.includes(`ValidatingAdmissionPolicy '${VAP_NAME}'`) && !verdict.includes('no params found')
            : verdict === 'admitted'
        )
          ? true
          : undefined
      })

    before(async () => {
      legacy = await freshNamespace(plane, 'vap-legacy')
      work = await freshNamespace(plane, 'vap-work')
      // Workloads from before the policy, with an image the allowlist will not allow.
      await ok(
        ['apply', '-n', legacy, '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              metadata: {name: 'old'},
              spec: {
                replicas: 1,
                selector: {matchLabels: {app: 'old'}},
                template: {metadata: {labels: {app: 'old'}}, spec: {containers: [{name: 'app', image: LEGACY_IMAGE}]}},
              },
            },
            {
              apiVersion: 'batch/v1',
              kind: 'CronJob',
              metadata: {name: 'old'},
              spec: {
                suspend: true,
                schedule: '0 3 * * *',
                jobTemplate: {
                  spec: {template: {spec: {restartPolicy: 'Never', containers: [{name: 'app', image: LEGACY_IMAGE}]}}},
                },
              },
            },
            podOf('old-pod', [LEGACY_IMAGE]),
          ],
        }),
      )
      await until("the legacy Deployment's pod", async () =>
        (await json(['get', 'pods', '-n', legacy, '-l', 'app=old'])).items.length === 1 ? true : undefined,
      )
    })

    after(async () => {
      // Whatever happened, leave no cluster-wide policy behind.
      await runCli(['whitelist', 'disable', '--mode', 'vap', ...kube()])
    })

    it('--dry-run=server: the server validates the three objects and stores nothing', async () => {
      const result = await enable(ALLOWED, ['--dry-run=server'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal(
        [
          'configmap/imgsec-allowed-registries created (server dry run)',
          'validatingadmissionpolicy.admissionregistration.k8s.io/imgsec-image-policy created (server dry run)',
          'validatingadmissionpolicybinding.admissionregistration.k8s.io/imgsec-image-policy created (server dry run)',
          '',
        ].join('\n'),
      )
      expect(await exists(['configmap', PARAMS_NAME, '-n', 'kube-system'])).to.equal(false)
      expect(await exists(['validatingadmissionpolicy', VAP_NAME])).to.equal(false)
      expect(await exists(['validatingadmissionpolicybinding', VAP_NAME])).to.equal(false)
    })

    it('enable: the server accepts the objects; type checking reports no warning', async () => {
      const result = await enable()
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal(
        [
          'configmap/imgsec-allowed-registries created',
          'validatingadmissionpolicy.admissionregistration.k8s.io/imgsec-image-policy created',
          'validatingadmissionpolicybinding.admissionregistration.k8s.io/imgsec-image-policy created',
          '',
        ].join('\n'),
      )
      // kube-controller-manager's status controller type-checks asynchronously, so the CLI may
      // not have seen it yet; it says so, and warns of nothing else.
      expect(
        result.stderr
          .split('\n')
          .filter((line) => line && !line.includes('has not reported type checking of the policy yet')),
      ).to.deep.equal([])
      const status = await until('status.typeChecking', async () => {
        const vap = await json(['get', 'validatingadmissionpolicy', VAP_NAME])
        return vap.status?.typeChecking && vap.status.observedGeneration === vap.metadata.generation
          ? vap.status
          : undefined
      })
      expect(status.typeChecking.expressionWarnings ?? [], JSON.stringify(status.typeChecking)).to.deep.equal([])
      await inForce('quay.io/probe/x:1', true)
    })

    it('type checking is live (a control): a typo in a field name is reported', async () => {
      const probe = {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: {name: 'imgsec-typecheck-control'},
        spec: {
          matchConstraints: {
            resourceRules: [{apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods']}],
          },
          validations: [{expression: "object.spec.containers.all(c, c.imagee != '')"}],
        },
      }
      await ok(['apply', '-f', '-'], JSON.stringify(probe))
      try {
        const warnings = await until(
          "the control's type checking",
          async () =>
            (await json(['get', 'validatingadmissionpolicy', probe.metadata.name])).status?.typeChecking
              ?.expressionWarnings,
        )
        expect(warnings[0].warning).to.contain("undefined field 'imagee'")
      } finally {
        await kubectl(['delete', 'validatingadmissionpolicy', probe.metadata.name])
      }
    })

    it('a second enable changes nothing', async () => {
      const before = await policyObjects()
      const again = await enable()
      expect(again.code, again.stderr).to.equal(0)
      expect(again.stdout).to.equal(
        [
          'configmap/imgsec-allowed-registries unchanged',
          'validatingadmissionpolicy.admissionregistration.k8s.io/imgsec-image-policy unchanged',
          'validatingadmissionpolicybinding.admissionregistration.k8s.io/imgsec-image-policy unchanged',
          '',
        ].join('\n'),
      )
      const after = await policyObjects()
      for (const key of ['params', 'vap', 'binding'] as const)
        expect(after[key].metadata.resourceVersion, key).to.equal(before[key].metadata.resourceVersion)
    })

    it('--dry-run=server of another allowlist changes nothing stored', async () => {
      const before = await policyObjects()
      const result = await enable('quay.io', ['--dry-run=server'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.contain('configmap/imgsec-allowed-registries configured (server dry run)')
      const after = await policyObjects()
      expect(after.params.data).to.deep.equal({allowedRegistries: ALLOWED})
      for (const key of ['params', 'vap', 'binding'] as const)
        expect(after[key].metadata.resourceVersion, key).to.equal(before[key].metadata.resourceVersion)
    })

    it("pods: containers and init containers are checked; the verdicts are the engine's", async () => {
      const policy: ImagePolicy = casePolicy({allowedRegistries: ALLOWED.split(',')})
      const images = [
        'nginx:1.25',
        'registry.k8s.io/pause:3.10',
        'docker.io/bitnami/redis:7',
        'quay.io/x/y:1',
        'nginx:latest',
        'nginx',
        'gcr.io/distroless/static:nonroot',
        'NGINX',
      ]
      const verdicts = await dryRunCreate(
        work,
        images.map((image, k) => podOf(`pod-${k}`, [image])),
      )
      images.forEach((image, k) =>
        expect(verdicts.admitted.has(`pod-${k}`), `${image}: ${verdicts.refused.get(`pod-${k}`)}`).to.equal(
          evaluateImage(image, {}, policy).allowed,
        ),
      )
      const init = await verdictOf(work, podOf('init', ['nginx:1.25'], {initImages: ['ghcr.io/evil/init:1']}))
      expect(init).to.match(
        /denied request: image-registry-not-allowed: registry not in the allowed registries: ghcr\.io\/evil\/init:1$/,
      )
    })

    it('workload templates: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job and CronJob are checked at CREATE', async () => {
      const bad = await dryRunCreate(work, workloads('bad', 'quay.io/x/y:1'))
      expect([...bad.admitted]).to.deep.equal([])
      for (const [name, line] of bad.refused)
        expect(line, name).to.match(
          /ValidatingAdmissionPolicy 'imgsec-image-policy' with binding 'imgsec-image-policy' denied request: image-registry-not-allowed: registry not in the allowed registries: quay\.io\/x\/y:1$/,
        )
      const good = await dryRunCreate(work, workloads('good', 'registry.k8s.io/pause:3.10'))
      expect([...good.refused.values()]).to.deep.equal([])
    })

    it('ephemeral containers: kubectl debug with a refused image is refused, with an allowed one admitted', async () => {
      await ok(['run', 'web', '-n', work, '--image=nginx:1.25'])
      const refused = await kubectl([
        'debug',
        'web',
        '-n',
        work,
        '--profile=general',
        '--image=quay.io/x/debug:1',
        '-c',
        'bad-debugger',
      ])
      expect(refused.code).to.equal(1)
      expect(refused.stderr).to.contain(
        'denied request: image-registry-not-allowed: registry not in the allowed registries: quay.io/x/debug:1',
      )
      await ok(['debug', 'web', '-n', work, '--profile=general', '--image=busybox:1.36', '-c', 'debugger'])
      const pod = await json(['get', 'pod', 'web', '-n', work])
      expect(pod.spec.ephemeralContainers.map((c: Json) => `${c.name}=${c.image}`)).to.deep.equal([
        'debugger=busybox:1.36',
      ])
    })

    it('exempt: kube-system and mirror pods; the break-glass annotation is not honoured by default; an ordinary pod with the same image is refused', async () => {
      const image = 'quay.io/x/y:1'
      expect(await verdictOf('kube-system', podOf('in-kube-system', [image]))).to.equal('admitted')
      expect(
        await verdictOf(
          work,
          podOf('mirror', [image], {annotations: {'kubernetes.io/config.mirror': 'abc123'}, nodeName: 'node-1'}),
        ),
      ).to.equal('admitted')
      expect(
        await verdictOf(
          work,
          podOf('break-glass', [image], {annotations: {'alpha.image-policy.k8s.io/break-glass': 'true'}}),
        ),
      ).to.match(/denied request: image-registry-not-allowed/)
      expect(await verdictOf(work, podOf('ordinary', [image], {nodeName: 'node-1'}))).to.match(
        /denied request: image-registry-not-allowed/,
      )
    })

    it("--break-glass: honoured on a pod or a pod template (not a Deployment's own annotations), and each use is in the audit log", async () => {
      const image = 'quay.io/x/y:1'
      const GLASS = {'alpha.image-policy.k8s.io/break-glass': 'true'}
      const audit = podAuditLog(tempDir('imgsec-vap-audit-'))
      await plane.startApiserver({extraArgs: audit.args})
      try {
        const withGlass = await enable(ALLOWED, ['--break-glass'])
        expect(withGlass.code, withGlass.stderr).to.equal(0)
        await until('break-glass honoured', async () =>
          (await verdictOf(work, podOf(`glass-probe-${Date.now()}`, [image], {annotations: GLASS}))) === 'admitted'
            ? true
            : undefined,
        )
        await ok(['create', '-n', work, '-f', '-'], JSON.stringify(podOf('glass-real', [image], {annotations: GLASS})))
        const annotations = await podCreateAuditAnnotations(audit.file, 'glass-real')
        expect(annotations).to.deep.include({[`${VAP_NAME}/break-glass`]: 'true'})
        const deployment = (name: string, own?: Json, templateAnnotations?: Json) => ({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: {name, ...(own ? {annotations: own} : {})},
          spec: {
            selector: {matchLabels: {app: 'x'}},
            template: {
              metadata: {labels: {app: 'x'}, ...(templateAnnotations ? {annotations: templateAnnotations} : {})},
              spec: {containers: [{name: 'app', image}]},
            },
          },
        })
        expect(await verdictOf(work, deployment('glass-template', undefined, GLASS))).to.equal('admitted')
        expect(await verdictOf(work, deployment('glass-own', GLASS))).to.match(
          /denied request: image-registry-not-allowed/,
        )
      } finally {
        expect((await enable(ALLOWED)).code).to.equal(0)
        await until('break-glass off again', async () =>
          (await verdictOf(work, podOf(`glass-probe-${Date.now()}`, [image], {annotations: GLASS}))) !== 'admitted'
            ? true
            : undefined,
        )
      }
    })

    it('UPDATE without a new image is not refused: scaling a Deployment from before the policy, and the controller scaling its ReplicaSet', async () => {
      await ok(['scale', 'deployment', 'old', '-n', legacy, '--replicas=3'])
      // The Deployment controller UPDATEs the ReplicaSet (not through /scale): the policy matches it.
      const rs = await until('the old ReplicaSet scaled to 3', async () => {
        const list = await json(['get', 'replicasets', '-n', legacy, '-l', 'app=old'])
        return list.items.length === 1 && list.items[0].spec.replicas === 3 ? list.items[0] : undefined
      })
      // The ReplicaSet controller's new pods are CREATEs of a refused image: refused, as intended.
      const event = await until(
        'a FailedCreate event',
        async () =>
          (
            await json([
              'get',
              'events',
              '-n',
              legacy,
              '--field-selector',
              `involvedObject.name=${rs.metadata.name},reason=FailedCreate`,
            ])
          ).items[0],
      )
      expect(event.message).to.contain(
        `ValidatingAdmissionPolicy '${VAP_NAME}' with binding '${VAP_NAME}' denied request: image-registry-not-allowed`,
      )
      expect((await json(['get', 'pods', '-n', legacy, '-l', 'app=old'])).items).to.have.length(1)
      // UPDATEs of the main resource that keep the images: replicas, labels, a CronJob's schedule, a pod's labels.
      await ok(['patch', 'deployment', 'old', '-n', legacy, '--type=merge', '-p', '{"spec":{"replicas":4}}'])
      await ok(['label', 'deployment', 'old', '-n', legacy, 'tier=legacy'])
      await ok(['patch', 'cronjob', 'old', '-n', legacy, '--type=merge', '-p', '{"spec":{"schedule":"0 4 * * *"}}'])
      await ok(['label', 'pod', 'old-pod', '-n', legacy, 'tier=legacy'])
      await ok(['debug', 'old-pod', '-n', legacy, '--profile=general', '--image=busybox:1.36', '-c', 'debugger'])
    })

    it('UPDATE that brings a refused image is refused; one that brings an allowed image is admitted and rolls out', async () => {
      const refused = await kubectl([
        'set',
        'image',
        'deployment/old',
        '-n',
        legacy,
        'app=quay.io/prometheus/node-exporter:v1.9.0',
      ])
      expect(refused.code).to.equal(1)
      expect(refused.stderr).to.contain(
        'denied request: image-registry-not-allowed: registry not in the allowed registries: quay.io/prometheus/node-exporter:v1.9.0',
      )
      const cron = await kubectl(['set', 'image', 'cronjob/old', '-n', legacy, 'app=nginx:latest'])
      expect(cron.code).to.equal(1)
      expect(cron.stderr).to.contain(
        'denied request: image-tag-latest: the mutable tag :latest; name a version: nginx:latest',
      )
      await ok(['set', 'image', 'deployment/old', '-n', legacy, 'app=registry.k8s.io/pause:3.10'])
      await until('pods of the new ReplicaSet', async () => {
        const pods = (await json(['get', 'pods', '-n', legacy, '-l', 'app=old'])).items as Json[]
        return pods.some((p) => p.spec.containers[0].image === 'registry.k8s.io/pause:3.10') ? true : undefined
      })
    })

    // CEL cost: 50 containers + 50 init containers against an allowlist of 100 entries, the one
    // entry that allows them last, so that every image is compared with all 100.
    const registries = [...Array.from({length: 99}, (_, k) => `reg${k}.example.com/team${k}`), 'registry.k8s.io'].join(
      ',',
    )
    const bigPod = (name: string, n: number, bad?: string) => {
      const images = Array.from({length: n}, (_, k) => `registry.k8s.io/team${k}/app-${k}:v1.${k}`)
      if (bad) images[n - 1] = bad
      return podOf(name, images, {initImages: images})
    }

    it('CEL cost: 50 + 50 containers against 100 allowlist entries: admitted, or refused by the rule, never by the cost limit', async () => {
      const result = await enable(registries)
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.contain('configmap/imgsec-allowed-registries configured')
      await inForce('nginx:1.25', true)
      const started = Date.now()
      expect(await verdictOf(work, bigPod('big-allowed', 50))).to.equal('admitted')
      const refusal = await verdictOf(work, bigPod('big-refused', 50, 'quay.io/evil/app:1'))
      expect(refusal).to.match(
        /denied request: image-registry-not-allowed: registry not in the allowed registries: quay\.io\/evil\/app:1, quay\.io\/evil\/app:1$/,
      )
      expect(Date.now() - started, 'two dry runs').to.be.below(10_000)
    })

    it('CEL cost headroom: the per-expression limit is reached only beyond 4× (200 + 200 containers), and then it is enforced', async () => {
      let ceiling: number | undefined
      for (const n of [100, 200, 400, 800, 1600]) {
        const verdict = await verdictOf(work, bigPod(`big-${n}`, n))
        if (verdict === 'admitted') continue
        expect(verdict, `${n} + ${n} containers`).to.contain('cost limit exceeded')
        ceiling = n
        break
      }
      expect(ceiling, 'the server refuses for cost somewhere up to 1600 + 1600 containers').to.not.equal(undefined)
      expect(ceiling).to.be.above(200)
    })

    it('status --mode vap, add-registry / remove-registry --mode vap; without its params ConfigMap status says BLOCKED, and the server indeed refuses', async () => {
      expect((await enable()).code).to.equal(0)
      const status = await runCli(['whitelist', 'status', '--mode', 'vap', ...kube()])
      expect(status.code, status.stderr).to.equal(0)
      expect(status.stdout).to.equal(
        [
          `pod creation:          checked: ValidatingAdmissionPolicy ${VAP_NAME} refuses images outside the allowlist`,
          'policy / binding:      present / present',
          `allowed registries:    ${ALLOWED.split(',').join(', ')}`,
          '',
        ].join('\n'),
      )
      const added = await runCli(['whitelist', 'add-registry', 'quay.io', '--mode', 'vap', ...kube()])
      expect(added.code, added.stderr).to.equal(0)
      expect(added.stdout).to.equal(
        `allowed registries: ${ALLOWED.split(',').join(', ')}, quay.io\nthe ValidatingAdmissionPolicy applies them within seconds\n`,
      )
      await inForce('quay.io/x/y:1', false)
      const removed = await runCli(['whitelist', 'remove-registry', 'quay.io', '--mode', 'vap', ...kube()])
      expect(removed.code, removed.stderr).to.equal(0)
      await inForce('quay.io/x/y:1', true)
      expect((await runCli(['whitelist', 'remove-registry', 'quay.io', '--mode', 'vap', ...kube()])).stdout).to.equal(
        'quay.io was not allowed: nothing changed\n',
      )
      await ok(['delete', 'configmap', PARAMS_NAME, '-n', 'kube-system'])
      const blocked = await runCli(['whitelist', 'status', '--mode', 'vap', ...kube()])
      expect(blocked.code).to.equal(2)
      expect(blocked.stdout.split('\n')[0]).to.match(
        /^pod creation: +BLOCKED: the params ConfigMap kube-system\/imgsec-allowed-registries is missing/,
      )
      await until('a pod refused for the missing params', async () =>
        (await verdictOf(work, podOf(`params-probe-${Date.now()}`, ['nginx:1.27']))).includes('no params found')
          ? true
          : undefined,
      )
      expect((await enable()).code).to.equal(0)
      await inForce('nginx:1.27', false)
    })

    it('disable deletes the three objects; the policy stops applying; a second disable changes nothing', async () => {
      const result = await runCli(['whitelist', 'disable', '--mode', 'vap', ...kube()])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal(
        [
          'registry whitelist (ValidatingAdmissionPolicy) disabled:',
          '  deleted validatingadmissionpolicybinding.admissionregistration.k8s.io/imgsec-image-policy',
          '  deleted validatingadmissionpolicy.admissionregistration.k8s.io/imgsec-image-policy',
          '  deleted configmap/imgsec-allowed-registries (namespace kube-system)',
          '',
        ].join('\n'),
      )
      expect(await exists(['configmap', PARAMS_NAME, '-n', 'kube-system'])).to.equal(false)
      expect(await exists(['validatingadmissionpolicy', VAP_NAME])).to.equal(false)
      expect(await exists(['validatingadmissionpolicybinding', VAP_NAME])).to.equal(false)
      await inForce('quay.io/x/y:1', false)
      const again = await runCli(['whitelist', 'disable', '--mode', 'vap', ...kube()])
      expect(again.stdout).to.equal('no ValidatingAdmissionPolicy from kubectl-imgsec found: nothing changed\n')
    })
  })
})

import type {V1Pod, V1Secret, V1ServiceAccount} from '@kubernetes/client-node'
import {expect} from 'chai'

import {runChecks} from '../../../src/lib/audit/audit.js'
import {
  clusterWorkload,
  digestOfImageId,
  namespacePullSecrets,
  type OwnerIndex,
  workloadOwner,
} from '../../../src/lib/audit/audit-cluster.js'
import {CHECKS} from '../../../src/lib/audit/checks/index.js'
import {foldPods} from '../../support/fold-pods.js'
import {imageTagDigestMismatch} from '../../../src/lib/audit/checks/image-tag-digest-mismatch.js'
import {DEFAULT_POLICY, type ImagePolicy} from '../../../src/lib/policy/policy.js'

const A = `sha256:${'a'.repeat(64)}`
const B = `sha256:${'b'.repeat(64)}`
const POLICY: ImagePolicy = {...DEFAULT_POLICY, exemptNamespaces: []}

function pod(
  name: string,
  options: {
    namespace?: string
    owner?: {kind: string; name: string}
    image?: string
    digest?: string
    annotations?: Record<string, string>
    init?: {image: string; digest?: string}
    spec?: Record<string, unknown>
  } = {},
): V1Pod {
  const image = options.image ?? 'nginx:1.25'
  return {
    metadata: {
      name,
      namespace: options.namespace ?? 'shop',
      annotations: options.annotations,
      ...(options.owner
        ? {
            ownerReferences: [
              {apiVersion: 'apps/v1', kind: options.owner.kind, name: options.owner.name, uid: 'u', controller: true},
            ],
          }
        : {}),
    },
    spec: {
      containers: [{name: 'main', image}],
      ...(options.init ? {initContainers: [{name: 'setup', image: options.init.image}]} : {}),
      ...options.spec,
    },
    status: {
      containerStatuses: options.digest
        ? [{name: 'main', image, imageID: `docker.io/library/nginx@${options.digest}`, ready: true, restartCount: 0}]
        : [],
      initContainerStatuses: options.init?.digest
        ? [
            {
              name: 'setup',
              image: options.init.image,
              imageID: `docker-pullable://busybox@${options.init.digest}`,
              ready: true,
              restartCount: 0,
            },
          ]
        : [],
    },
  } as V1Pod
}

const OWNERS: OwnerIndex = new Map<
  string,
  {controller?: {kind: string; name: string}; annotations?: Record<string, string>}
>([
  ['ReplicaSet/shop/web-1', {controller: {kind: 'Deployment', name: 'web'}}],
  ['ReplicaSet/shop/web-2', {controller: {kind: 'Deployment', name: 'web'}}],
  ['Deployment/shop/web', {annotations: {'imgsec.io/ignore': 'run-as-root'}}],
  ['Job/batch/nightly-1', {controller: {kind: 'CronJob', name: 'nightly'}}],
  ['CronJob/batch/nightly', {annotations: {team: 'data'}}],
  ['ReplicaSet/shop/orphan', {}],
])

describe('audit-cluster: folding pods into workloads', () => {
  describe('workloadOwner', () => {
    const cases: Array<{
      title: string
      pod: V1Pod
      expected: {kind: string; name: string; annotations: Record<string, string>}
    }> = [
      {
        title: 'a bare pod is its own workload, with its annotations',
        pod: pod('debug', {annotations: {a: 'b'}}),
        expected: {kind: 'Pod', name: 'debug', annotations: {a: 'b'}},
      },
      {
        title: 'pod → ReplicaSet → Deployment, with the Deployment annotations',
        pod: pod('web-1-x', {owner: {kind: 'ReplicaSet', name: 'web-1'}}),
        expected: {kind: 'Deployment', name: 'web', annotations: {'imgsec.io/ignore': 'run-as-root'}},
      },
      {
        title: 'pod → Job → CronJob',
        pod: pod('n', {namespace: 'batch', owner: {kind: 'Job', name: 'nightly-1'}}),
        expected: {kind: 'CronJob', name: 'nightly', annotations: {team: 'data'}},
      },
      {
        title: 'a ReplicaSet without a Deployment stays the workload',
        pod: pod('o', {owner: {kind: 'ReplicaSet', name: 'orphan'}, annotations: {p: '1'}}),
        expected: {kind: 'ReplicaSet', name: 'orphan', annotations: {p: '1'}},
      },
      {
        title: 'an owner that was not listed (no RBAC) is still the workload, with the pod annotations',
        pod: pod('s-0', {owner: {kind: 'StatefulSet', name: 'db'}, annotations: {p: '2'}}),
        expected: {kind: 'StatefulSet', name: 'db', annotations: {p: '2'}},
      },
      {
        title: 'the owner in another namespace does not count',
        pod: pod('w', {namespace: 'other', owner: {kind: 'ReplicaSet', name: 'web-1'}}),
        expected: {kind: 'ReplicaSet', name: 'web-1', annotations: {}},
      },
    ]
    for (const {title, pod: p, expected} of cases)
      it(title, () => expect(workloadOwner(p, OWNERS)).to.deep.equal(expected))
  })

  describe('digestOfImageId', () => {
    const cases: Array<[string | undefined, string | undefined]> = [
      [`docker-pullable://nginx@${A}`, A],
      [`docker.io/library/nginx@${B}`, B],
      [A, A],
      ['sha256:abc', undefined],
      ['', undefined],
      [undefined, undefined],
    ]
    for (const [imageId, expected] of cases)
      it(`${imageId ?? 'undefined'} → ${expected ?? 'undefined'}`, () =>
        expect(digestOfImageId(imageId)).to.equal(expected))
  })

  describe('foldPods', () => {
    it('one workload per controller, one instance per container of each pod with the digest it runs', () => {
      const folding = foldPods(OWNERS, POLICY)
      folding.add(
        pod('web-1-a', {
          owner: {kind: 'ReplicaSet', name: 'web-1'},
          digest: A,
          init: {image: 'busybox:1.36', digest: B},
        }),
      )
      folding.add(pod('web-1-b', {owner: {kind: 'ReplicaSet', name: 'web-1'}, digest: A}))
      // Mid-rollout: the new ReplicaSet's pod runs another image; it counts as an instance of the same workload.
      folding.add(pod('web-2-a', {owner: {kind: 'ReplicaSet', name: 'web-2'}, image: 'nginx:1.26', digest: B}))
      folding.add(pod('debug', {image: `nginx@${A}`}))
      expect([...folding.workloads.keys()]).to.deep.equal(['Deployment/shop/web', 'Pod/shop/debug'])
      const web = folding.workloads.get('Deployment/shop/web')!
      expect(web.workload).to.deep.include({kind: 'Deployment', namespace: 'shop', name: 'web', podSpecPath: ['spec']})
      expect(web.targets.map((t) => [t.field, t.name, t.image])).to.deep.equal([
        ['initContainers', 'setup', 'busybox:1.36'],
        ['containers', 'main', 'nginx:1.25'],
      ])
      expect(folding.instances.map((i) => [i.workload.name, i.container, i.image, i.runningDigest])).to.deep.equal([
        ['web', 'setup', 'busybox:1.36', B],
        ['web', 'main', 'nginx:1.25', A],
        ['web', 'main', 'nginx:1.25', A],
        ['web', 'main', 'nginx:1.26', B],
        ['debug', 'main', `nginx@${A}`, undefined],
      ])
      // Every instance of a workload points at the one workload object (exemptions and credentials are looked up by it).
      expect(folding.instances[3].workload).to.equal(web.workload)
    })
  })

  describe('pull secrets of a folded workload', () => {
    const dockerconfig = (server: string) =>
      ({
        metadata: {name: `for-${server}`},
        type: 'kubernetes.io/dockerconfigjson',
        data: {
          '.dockerconfigjson': Buffer.from(
            JSON.stringify({auths: {[server]: {auth: Buffer.from('u:p').toString('base64')}}}),
          ).toString('base64'),
        },
      }) as V1Secret
    const secrets = [dockerconfig('reg.example.com'), dockerconfig('quay.io')]
    const accounts = [
      {metadata: {name: 'default'}, imagePullSecrets: [{name: 'for-quay.io'}]},
      {metadata: {name: 'builder'}, imagePullSecrets: [{name: 'for-reg.example.com'}]},
    ] as V1ServiceAccount[]
    const folded = (spec: Record<string, unknown>) => {
      const folding = foldPods(new Map(), POLICY)
      folding.add(pod('p', {image: 'reg.example.com/app:1', spec}))
      return [...folding.workloads.values()][0]
    }

    it("the pod's own secrets plus its service account's (default when none is named), each once", () => {
      const unit = clusterWorkload(
        folded({imagePullSecrets: [{name: 'for-reg.example.com'}, {name: 'for-quay.io'}]}),
        namespacePullSecrets(secrets, accounts),
        POLICY,
      )
      expect(unit.context.usablePullSecretNames).to.deep.equal(['for-reg.example.com', 'for-quay.io'])
      expect(unit.context.usablePullSecretServers).to.deep.equal(['reg.example.com', 'quay.io'])
      expect(unit.context.namespacePullSecretServers).to.deep.equal(['reg.example.com', 'quay.io'])
      expect(unit.credentials!.map((c) => c.server)).to.deep.equal(['reg.example.com', 'quay.io'])
    })

    it('a named service account', () => {
      const unit = clusterWorkload(
        folded({serviceAccountName: 'builder'}),
        namespacePullSecrets(secrets, accounts),
        POLICY,
      )
      expect(unit.context.usablePullSecretNames).to.deep.equal(['for-reg.example.com'])
      expect(unit.context.usablePullSecretServers).to.deep.equal(['reg.example.com'])
    })

    it('secrets that cannot be read: names known, servers unknown (the check then trusts any secret)', () => {
      const unit = clusterWorkload(folded({}), namespacePullSecrets(undefined, accounts), POLICY)
      expect(unit.context.usablePullSecretNames).to.deep.equal(['for-quay.io'])
      expect(unit.context.usablePullSecretServers).to.equal(undefined)
      expect(unit.context.namespacePullSecretServers).to.equal(undefined)
      expect(unit.credentials).to.deep.equal([])
    })
  })
})

describe('audit-cluster: image-tag-digest-mismatch across pods', () => {
  const fold = (pods: V1Pod[]) => {
    const folding = foldPods(OWNERS, POLICY)
    for (const p of pods) folding.add(p)
    return {
      workloads: [...folding.workloads.values()].map((f) => clusterWorkload(f, undefined, POLICY)),
      instances: folding.instances,
    }
  }
  const mismatches = (pods: V1Pod[]) => runChecks(fold(pods), POLICY, [imageTagDigestMismatch])

  it('one finding per workload container, naming the digests and how many pods run each', () => {
    const findings = mismatches([
      pod('web-1-a', {owner: {kind: 'ReplicaSet', name: 'web-1'}, digest: A}),
      pod('web-1-b', {owner: {kind: 'ReplicaSet', name: 'web-1'}, digest: A}),
      pod('web-1-c', {owner: {kind: 'ReplicaSet', name: 'web-1'}, digest: B}),
      pod('other', {image: 'docker.io/library/nginx:1.25', digest: A}),
    ])
    const message = `docker.io/library/nginx:1.25 runs as 2 different digests across pods: ${A.slice(0, 19)}… (3 pods), ${B.slice(0, 19)}… (1 pod)`
    expect(findings).to.deep.equal([
      {
        check: 'image-tag-digest-mismatch',
        severity: 'medium',
        resource: {kind: 'Deployment', namespace: 'shop', name: 'web'},
        container: 'main',
        image: 'nginx:1.25',
        message,
        fix: imageTagDigestMismatch.fix,
      },
      {
        check: 'image-tag-digest-mismatch',
        severity: 'medium',
        resource: {kind: 'Pod', namespace: 'shop', name: 'other'},
        container: 'main',
        image: 'docker.io/library/nginx:1.25',
        message,
        fix: imageTagDigestMismatch.fix,
      },
    ])
  })

  const quiet: Array<{title: string; pods: V1Pod[]}> = [
    {title: 'every pod runs the same digest', pods: [pod('a', {digest: A}), pod('b', {digest: A})]},
    {
      title: 'images pinned by digest are never compared',
      pods: [pod('a', {image: `nginx:1.25@${A}`, digest: A}), pod('b', {image: `nginx:1.25@${A}`, digest: B})],
    },
    {
      title: 'different tags are different images',
      pods: [pod('a', {image: 'nginx:1.25', digest: A}), pod('b', {image: 'nginx:1.26', digest: B})],
    },
    {title: 'pods without a reported digest (not started) are left out', pods: [pod('a', {digest: A}), pod('b')]},
    {
      title: 'an invalid reference is skipped, not a crash',
      pods: [pod('a', {image: 'NGINX:1', digest: A}), pod('b', {image: 'NGINX:1', digest: B})],
    },
  ]
  for (const {title, pods} of quiet) it(`nothing when ${title}`, () => expect(mismatches(pods)).to.deep.equal([]))

  it('":latest" and no tag are the same image', () => {
    expect(
      mismatches([pod('a', {image: 'nginx', digest: A}), pod('b', {image: 'nginx:latest', digest: B})]).map(
        (f) => f.resource.name,
      ),
    ).to.deep.equal(['a', 'b'])
  })

  it('the workload annotation and policy exemptions apply to cross-workload findings', () => {
    const pods = [
      pod('a', {digest: A, annotations: {'imgsec.io/ignore': 'main/image-tag-digest-mismatch'}}),
      pod('b', {digest: B}),
    ]
    expect(mismatches(pods).map((f) => f.resource.name)).to.deep.equal(['b'])
    const policy = {...POLICY, exemptions: [{check: 'image-tag-digest-mismatch', name: 'b', reason: 'known'}]}
    expect(
      runChecks(fold([pod('a', {digest: A}), pod('b', {digest: B})]), policy, [imageTagDigestMismatch]).map(
        (f) => f.resource.name,
      ),
    ).to.deep.equal(['a'])
  })

  it('runs after the per-container checks, in registry order', () => {
    const findings = runChecks(fold([pod('a', {digest: A}), pod('b', {digest: B})]), POLICY, CHECKS)
    const first = findings.findIndex((f) => f.check === 'image-tag-digest-mismatch')
    expect(first).to.be.greaterThan(0)
    expect(findings.slice(first).map((f) => f.check)).to.deep.equal([
      'image-tag-digest-mismatch',
      'image-tag-digest-mismatch',
    ])
  })
})

import {expect} from 'chai'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {runCli} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'

const DIGEST_A = `sha256:${'a'.repeat(64)}`
const DIGEST_B = `sha256:${'b'.repeat(64)}`

const HARDENED_SECURITY = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: {drop: ['ALL']},
}
const LIMITS = {limits: {cpu: '100m', memory: '64Mi'}}

function pod(
  namespace: string,
  name: string,
  options: {
    owner?: {kind: string; name: string}
    image: string
    imageId?: string
    labels?: Record<string, string>
    pullSecrets?: string[]
    hardened?: boolean
  },
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: options.labels ?? {},
      ...(options.owner
        ? {
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: options.owner.kind,
                name: options.owner.name,
                uid: `uid-${options.owner.name}`,
                controller: true,
              },
            ],
          }
        : {}),
    },
    spec: {
      containers: [
        {
          name: 'main',
          image: options.image,
          imagePullPolicy: 'IfNotPresent',
          ...(options.hardened ? {securityContext: HARDENED_SECURITY, resources: LIMITS} : {}),
        },
      ],
      ...(options.pullSecrets ? {imagePullSecrets: options.pullSecrets.map((n) => ({name: n}))} : {}),
    },
    status: {
      containerStatuses: options.imageId
        ? [
            {
              name: 'main',
              image: options.image,
              imageID: `docker.io/library/nginx@${options.imageId}`,
              ready: true,
              restartCount: 0,
            },
          ]
        : [],
    },
  }
}

describe('audit images against a cluster (built CLI, fake API server)', () => {
  let api: FakeKubeApiServer
  let kubeconfig: string
  before(async () => {
    api = await FakeKubeApiServer.start({namespaces: ['shop', 'batch']})
    kubeconfig = await api.writeKubeconfig(
      path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-auditc-')), 'kubeconfig'),
      {namespace: 'shop'},
    )
    api.seed({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name: 'web', namespace: 'shop', annotations: {'imgsec.io/ignore': 'main/resources-missing'}},
      spec: {
        selector: {matchLabels: {app: 'web'}},
        template: {metadata: {labels: {app: 'web'}}, spec: {containers: [{name: 'main', image: 'nginx:1.25'}]}},
      },
    })
    api.seed({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'web-7d9f',
        namespace: 'shop',
        ownerReferences: [{apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web', controller: true}],
      },
      spec: {
        selector: {matchLabels: {app: 'web'}},
        template: {spec: {containers: [{name: 'main', image: 'nginx:1.25'}]}},
      },
    })
    for (const [index, digest] of [DIGEST_A, DIGEST_A, DIGEST_B].entries()) {
      api.seed(
        pod('shop', `web-7d9f-${index}`, {
          owner: {kind: 'ReplicaSet', name: 'web-7d9f'},
          image: 'nginx:1.25',
          imageId: digest,
          labels: {app: 'web'},
        }),
      )
    }
    api.seed({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: {name: 'nightly', namespace: 'batch'},
      spec: {
        schedule: '0 2 * * *',
        jobTemplate: {
          spec: {template: {spec: {containers: [{name: 'main', image: 'busybox'}], restartPolicy: 'Never'}}},
        },
      },
    })
    api.seed({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'nightly-290',
        namespace: 'batch',
        ownerReferences: [
          {apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'uid-nightly', controller: true},
        ],
      },
      spec: {template: {spec: {containers: [{name: 'main', image: 'busybox'}], restartPolicy: 'Never'}}},
    })
    api.seed(pod('batch', 'nightly-290-x', {owner: {kind: 'Job', name: 'nightly-290'}, image: 'busybox'}))
    api.seed(pod('shop', 'debug', {image: `nginx@${DIGEST_A}`, hardened: true, labels: {app: 'debug'}}))
    // A pull secret for reg.example.com exists in "shop"; the pod below does not use it.
    const dockerconfig = Buffer.from(
      JSON.stringify({auths: {'reg.example.com': {auth: Buffer.from('u:p').toString('base64')}}}),
    ).toString('base64')
    api.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {name: 'regcred', namespace: 'shop'},
      type: 'kubernetes.io/dockerconfigjson',
      data: {'.dockerconfigjson': dockerconfig},
    })
    api.seed(
      pod('shop', 'private', {image: `reg.example.com/app@${DIGEST_A}`, hardened: true, labels: {app: 'private'}}),
    )
    api.seed(
      pod('shop', 'private-ok', {
        image: `reg.example.com/app@${DIGEST_A}`,
        hardened: true,
        pullSecrets: ['regcred'],
        labels: {app: 'private'},
      }),
    )
  })
  after(async () => {
    await api?.stop()
  })

  const audit = async (args: string[]) => {
    const result = await runCli(['audit', 'images', ...args, '-o', 'json', '--fail-on', 'none'], {
      env: {KUBECONFIG: kubeconfig},
    })
    expect(result.code, result.stderr).to.equal(0)
    return JSON.parse(result.stdout) as {
      findings: Array<{
        check: string
        severity: string
        resource: {kind: string; namespace: string; name: string}
        container: string
        image: string
        message: string
      }>
    }
  }

  it("reports per workload in the context's namespace, not per replica", async () => {
    const doc = await audit([])
    const resources = [
      ...new Set(doc.findings.map((f) => `${f.resource.kind}/${f.resource.namespace}/${f.resource.name}`)),
    ].sort()
    expect(resources).to.deep.equal(['Deployment/shop/web', 'Pod/shop/private'])
    const web = doc.findings.filter((f) => f.resource.name === 'web')
    expect(web.filter((f) => f.check === 'run-as-root')).to.have.length(1)
  })

  it('honours the imgsec.io/ignore annotation on the Deployment', async () => {
    const doc = await audit([])
    expect(doc.findings.filter((f) => f.resource.name === 'web').map((f) => f.check)).to.not.include(
      'resources-missing',
    )
  })

  it('finds the same tag running as different digests', async () => {
    const doc = await audit([])
    const mismatch = doc.findings.filter((f) => f.check === 'image-tag-digest-mismatch')
    expect(mismatch).to.have.length(1)
    expect(mismatch[0].message).to.equal(
      `docker.io/library/nginx:1.25 runs as 2 different digests across pods: ${DIGEST_A.slice(0, 19)}… (2 pods), ${DIGEST_B.slice(0, 19)}… (1 pod)`,
    )
  })

  it('flags a pod that does not reference the namespace pull secret for its registry, not one that does', async () => {
    const doc = await audit([])
    const missing = doc.findings.filter((f) => f.check === 'image-pull-secret-missing')
    expect(missing.map((f) => f.resource.name)).to.deep.equal(['private'])
  })

  it('-A folds Job pods into their CronJob', async () => {
    const doc = await audit(['-A'])
    const kinds = [...new Set(doc.findings.map((f) => `${f.resource.kind}/${f.resource.name}`))].sort()
    expect(kinds).to.include('CronJob/nightly')
    expect(kinds).to.not.include('Job/nightly-290')
  })

  it('-l selects pods by label, -n picks the namespace', async () => {
    expect([...new Set((await audit(['-l', 'app=private'])).findings.map((f) => f.resource.name))]).to.deep.equal([
      'private',
    ])
    expect([...new Set((await audit(['-n', 'batch'])).findings.map((f) => f.resource.name))]).to.deep.equal(['nightly'])
  })

  it('reads pods page by page', async () => {
    api.requests.length = 0
    await audit(['-A'])
    const podLists = api.requests.filter((r) => r.path === '/api/v1/pods')
    expect(podLists.length).to.be.greaterThan(0)
    expect(podLists.every((r) => r.query.limit === '500')).to.equal(true)
  })

  it('an RBAC refusal to list pods is one clear line, exit 1', async () => {
    api.deny({verb: 'list', resource: 'pods', namespace: 'batch'})
    const result = await runCli(['audit', 'images', '-n', 'batch'], {env: {KUBECONFIG: kubeconfig}})
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(
      /^error: forbidden: RBAC does not allow you to list pods in namespace "batch": pods is forbidden: User "[^"]+" cannot list resource "pods"/,
    )
  })
})

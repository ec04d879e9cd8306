import {expect} from 'chai'

import {auditWorkload} from '../../../../src/lib/audit/audit.js'
import {pathList} from '../../../../src/lib/audit/checks/image-contents.js'
import type {ImageFacts} from '../../../../src/lib/image/image-facts.js'
import {DEFAULT_POLICY, type ImagePolicy} from '../../../../src/lib/policy/policy.js'
import type {Container} from '../../../../src/lib/audit/workloads.js'

const IMAGE = 'registry.example.com/app:1.0'
const NOW = Date.parse('2026-06-01T00:00:00Z')

function facts(over: Partial<ImageFacts> = {}): ImageFacts {
  return {
    image: IMAGE,
    digest: `sha256:${'a'.repeat(64)}`,
    user: '',
    created: '2026-05-01T00:00:00Z',
    compressedSize: 1000,
    layers: 1,
    shells: [],
    packageManagers: [],
    networkTools: [],
    setuidFiles: [],
    secrets: [],
    unreadLayers: [],
    ...over,
  }
}

function run(all: ImageFacts[] | undefined, container: Partial<Container> = {}, policy: Partial<ImagePolicy> = {}) {
  const full = {...DEFAULT_POLICY, exemptNamespaces: [], ...policy}
  return auditWorkload({
    workload: {
      kind: 'Deployment',
      namespace: 'default',
      name: 'web',
      annotations: {},
      podSpec: {containers: [{name: 'app', image: IMAGE, ...container}]},
      podSpecPath: ['spec', 'template', 'spec'],
    },
    context: {
      mode: 'file',
      policy: full,
      usablePullSecretNames: [],
      ...(all ? {inspected: {facts: new Map([[IMAGE, all]]), now: NOW}} : {}),
    },
  })
    .filter((f) => f.check.startsWith('image-') && !['image-digest-missing', 'image-pull-policy'].includes(f.check))
    .map((f) => [f.check, f.severity, f.message])
}

describe('--inspect checks (pure)', () => {
  it('report nothing without --inspect', () => {
    expect(run(undefined)).to.deep.equal([])
  })

  it('image-runs-as-root: root user; medium with runAsNonRoot (the kubelet refuses); critical with requireNonRootImage', () => {
    expect(run([facts({user: 'root'})])).to.deep.equal([
      [
        'image-runs-as-root',
        'high',
        `image ${IMAGE} sets USER "root" and container "app" sets no non-zero runAsUser, so it runs as root`,
      ],
    ])
    expect(run([facts()], {securityContext: {runAsNonRoot: true}})).to.deep.equal([
      [
        'image-runs-as-root',
        'medium',
        `image ${IMAGE} sets no USER, so it runs as root; runAsNonRoot: true makes the kubelet refuse to start container "app" (CreateContainerConfigError) until a non-zero runAsUser is set`,
      ],
    ])
    expect(run([facts()], {securityContext: {runAsUser: 0}})[0][1]).to.equal('high')
    expect(run([facts()], {securityContext: {runAsUser: 1000}})).to.deep.equal([])
    expect(run([facts({user: '1000'})])).to.deep.equal([])
    expect(run([facts()], {}, {requireNonRootImage: true})[0].slice(1)).to.deep.equal([
      'critical',
      `image ${IMAGE} sets no USER and container "app" sets no non-zero runAsUser, so it runs as root (policy: requireNonRootImage)`,
    ])
  })

  it('image-has-shell is high with forbidShell; several platforms are named', () => {
    const amd = facts({platform: 'linux/amd64', user: '1', shells: ['/bin/sh']})
    const arm = facts({platform: 'linux/arm64', user: '1'})
    expect(run([amd, arm], {}, {forbidShell: true})).to.deep.equal([
      ['image-has-shell', 'high', `image ${IMAGE} (linux/amd64) has a shell: /bin/sh (policy: forbidShell)`],
    ])
  })

  it('image-stale: older than maxImageAgeDays; never for a missing or epoch date', () => {
    expect(run([facts({user: '1', created: '2025-01-01T00:00:00Z'})])).to.deep.equal([
      [
        'image-stale',
        'medium',
        `image ${IMAGE} was built 516 days ago (created 2025-01-01T00:00:00Z), more than maxImageAgeDays (365)`,
      ],
    ])
    expect(run([facts({user: '1', created: '2025-01-01T00:00:00Z'})], {}, {maxImageAgeDays: 600})).to.deep.equal([])
    expect(run([facts({user: '1', created: '1970-01-01T00:00:00Z'})])).to.deep.equal([])
    expect(run([facts({user: '1', created: undefined})])).to.deep.equal([])
  })

  it('image-secret-in-config and image-setuid-files name what they found', () => {
    expect(
      run([
        facts({
          user: '1',
          secrets: [{where: 'LABEL', name: 'db.password', reason: 'its name looks like a credential'}],
          setuidFiles: [{path: '/bin/su', mode: '4755'}],
        }),
      ]),
    ).to.deep.equal([
      [
        'image-secret-in-config',
        'high',
        `image ${IMAGE} has LABEL db.password: its name looks like a credential (the value is not shown)`,
      ],
      ['image-setuid-files', 'info', `image ${IMAGE} has setuid/setgid files: /bin/su (4755)`],
    ])
  })

  it('pathList shows ten paths, then how many more', () => {
    const paths = Array.from({length: 12}, (_, i) => `/p${i}`)
    expect(pathList(paths)).to.equal('/p0, /p1, /p2, /p3, /p4, /p5, /p6, /p7, /p8, /p9 and 2 more')
  })
})

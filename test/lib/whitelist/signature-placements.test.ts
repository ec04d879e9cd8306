import {expect} from 'chai'
import {generateKeyPairSync} from 'node:crypto'
import {chmodSync, copyFileSync, mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parse as parseYaml} from 'yaml'

import {connectCluster, NO_CLUSTER} from '../../../src/lib/cluster/connection.js'
import {FakeKubeApiServer} from '../../support/fake-kube-api.js'
import {preflightAndPlan} from '../../../src/lib/whitelist/enable.js'
import {bindPlacement} from '../../../src/lib/whitelist/placements/index.js'
import type {ApplyMaterial, ResolvedEnableOptions} from '../../../src/lib/whitelist/plan.js'
import {readRegistryCredentials} from '../../../src/lib/whitelist/registry-credentials.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const MANIFEST = path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml')
const IMAGE = `gcr.io/distroless/nodejs22-debian12@sha256:${'a'.repeat(64)}`
const CANARY = 'Placement-Creds-canary'
const DOCKER_CONFIG = JSON.stringify({
  auths: {'registry.example.com': {auth: Buffer.from(`robot:${CANARY}`).toString('base64')}},
})

function node() {
  const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-sigplan-'))
  mkdirSync(path.join(dir, 'manifests'))
  copyFileSync(MANIFEST, path.join(dir, 'manifests', 'kube-apiserver.yaml'))
  const key = path.join(dir, 'cosign.pub')
  writeFileSync(key, generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}))
  const dockerConfig = path.join(dir, 'config.json')
  writeFileSync(dockerConfig, DOCKER_CONFIG)
  return {dir, key, dockerConfig, configDir: path.join(dir, 'etc'), manifestsDir: path.join(dir, 'manifests')}
}

const common = (n: ReturnType<typeof node>) => ({
  configDir: n.configDir,
  manifestsDir: n.manifestsDir,
  backupDir: path.join(n.dir, 'backups'),
  port: 8443,
  allowedRegistries: ['registry.example.com', 'registry.k8s.io'],
  trustedKeys: [n.key],
  settings: {allowTTL: 50, denyTTL: 50, retryBackoff: 500, defaultAllow: true},
  backendTimeoutMs: 1000,
  force: false,
  dryRun: true,
  command: 'test',
})

const deployment = (n: ReturnType<typeof node>, extra: Partial<ResolvedEnableOptions> = {}) =>
  ({
    ...common(n),
    placement: 'deployment',
    backendImage: IMAGE,
    namespace: 'imgsec-system',
    nodePort: 30443,
    nodeAddress: '10.0.0.5',
    backend: 'imgsec',
    acceptLockoutRisk: false,
    ...extra,
  }) as ResolvedEnableOptions

const plan = (options: ResolvedEnableOptions) =>
  preflightAndPlan(options, bindPlacement(options), {cluster: NO_CLUSTER, warnNow: () => {}})

const pair = (name: string) => ({certPem: `${name} certificate`, keyPem: `${name} key`})
const material: ApplyMaterial = {ca: pair('ca'), serving: pair('serving'), bundleText: 'the bundle'}

describe('requireSignature in the deployment and external placements', () => {
  it('deployment: the keys beside the policy in its ConfigMap, named relative to it; the credentials in a Secret the backend reads', async () => {
    const n = node()
    const {plan: p, dockerConfig} = await plan(deployment(n, {dockerConfig: n.dockerConfig}))
    expect(dockerConfig).to.equal(DOCKER_CONFIG)
    const policy = parseYaml(p.policyFile.content)
    const keyFile = policy.requireSignature[0].keys[0] as string
    expect(keyFile).to.match(/^trusted-key-[0-9a-f]{16}\.pub$/)
    expect(policy.requireSignature[0].repositories).to.deep.equal(['registry.example.com', 'registry.k8s.io'])
    // The dry run: the keys are public; the credentials are a placeholder naming their source.
    expect(p.backend.preview.map((f) => f.path)).to.include('Secret/imgsec-system/imgsec-webhook-registry')
    expect(p.backend.preview.map((f) => f.content).join('\n')).to.not.include(CANARY)
    const secretPreview = p.backend.preview.find((f) => f.path === 'Secret/imgsec-system/imgsec-webhook-registry')!
    expect(parseYaml(secretPreview.content).data).to.deep.equal({
      '.dockerconfigjson': `<registry credentials from --docker-config "${n.dockerConfig}": not printed>\n`,
    })
    // At apply time the Secret holds the file as read at preflight.
    const objects = p.backend.objects!.render({...material, dockerConfig})
    const policyMap = objects.find((o) => o.metadata.name === 'imgsec-webhook-policy')!
    expect(Object.keys(policyMap.data)).to.deep.equal(['policy.yaml', keyFile])
    expect(policyMap.data[keyFile]).to.match(/^-----BEGIN PUBLIC KEY-----\n/)
    const secret = objects.find((o) => o.metadata.name === 'imgsec-webhook-registry')!
    expect(secret.type).to.equal('kubernetes.io/dockerconfigjson')
    expect(Buffer.from(secret.data['.dockerconfigjson'], 'base64').toString()).to.equal(DOCKER_CONFIG)
    const pod = objects.find((o) => o.kind === 'Deployment')!.spec.template.spec
    expect(pod.containers[0].command.slice(-2)).to.deep.equal(['--docker-config', '/registry/.dockerconfigjson'])
    expect(pod.containers[0].volumeMounts.at(-1)).to.deep.equal({
      name: 'registry',
      mountPath: '/registry',
      readOnly: true,
    })
    expect(pod.volumes.at(-1)).to.deep.equal({name: 'registry', secret: {secretName: 'imgsec-webhook-registry'}})
  })

  it('deployment without --docker-config: the keys only; without requireSignature: neither', async () => {
    const n = node()
    const keysOnly = (await plan(deployment(n))).plan.backend.objects!.render(material)
    expect(Object.keys(keysOnly.find((o) => o.metadata.name === 'imgsec-webhook-policy')!.data)).to.have.length(2)
    expect(keysOnly.map((o) => o.metadata.name)).to.not.include('imgsec-webhook-registry')
    expect(keysOnly.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0].command).to.not.include(
      '--docker-config',
    )
    const neither = (await plan(deployment(n, {trustedKeys: undefined}))).plan.backend.objects!.render(material)
    expect(neither.map((o) => o.metadata.name)).to.not.include.members([
      'imgsec-webhook-keys',
      'imgsec-webhook-registry',
    ])
  })

  it('deployment with --backend bouncer: refused, it cannot verify signatures', async () => {
    const n = node()
    let message = ''
    await plan(deployment(n, {backend: 'bouncer'})).catch((error: Error) => {
      message = error.message
    })
    expect(message).to.equal(
      "--backend bouncer cannot verify signatures (kube-image-bouncer has no requireSignature): drop --backend bouncer, or --require-signature and the policy's requireSignature",
    )
  })

  it('external: the policy names the keys as given, nothing is written, and a warning says what the backend needs', async () => {
    const n = node()
    const options = {
      ...common(n),
      placement: 'external',
      webhookUrl: 'https://imgsec.example.com/image_policy',
      webhookCa: n.key,
    } as ResolvedEnableOptions
    const {plan: p} = await plan(options)
    expect(parseYaml(p.policyFile.content).requireSignature[0].keys).to.deep.equal([n.key])
    expect(p.backend.files).to.deep.equal([])
    expect(p.warnings).to.deep.equal([
      `the policy requires signatures (requireSignature), which the backend at https://imgsec.example.com/image_policy must verify itself: nothing of it is sent there. Run it with the policy that --dry-run=client prints, the trusted keys at the paths it names (${n.key}), and registry credentials for the signatures if its registries need them ("kubectl imgsec webhook serve --policy FILE --docker-config FILE" does all three)`,
    ])
  })

  it('readRegistryCredentials: none given; given without requireSignature; unreadable; with no login: one line naming the flag, never the content', async () => {
    const n = node()
    const requireSignature = [{repositories: ['registry.example.com'], keys: []}]
    const failure = (promise: Promise<unknown>) =>
      promise.then(
        () => '',
        (error: Error) => error.message,
      )
    expect(await readRegistryCredentials({}, {})).to.equal(undefined)
    expect(await failure(readRegistryCredentials({dockerConfig: n.dockerConfig}, {}))).to.equal(
      '--docker-config gives the backend registry credentials to read signatures and image contents: it goes with --require-signature --trusted-key KEY, or a --policy file with requireSignature, requireNonRootImage, forbidShell or maxImageAgeDays',
    )
    // Image contents are read from the registries too: credentials go with those rules alone.
    for (const rule of [{requireNonRootImage: true}, {forbidShell: true}, {maxImageAgeDays: 30}])
      expect((await readRegistryCredentials({dockerConfig: n.dockerConfig}, rule))?.source).to.equal(
        `--docker-config "${n.dockerConfig}"`,
      )
    const missing = path.join(n.dir, 'missing.json')
    expect(await failure(readRegistryCredentials({dockerConfig: missing}, {requireSignature}))).to.equal(
      `--docker-config "${missing}" cannot be read: no such file or directory`,
    )
    const noLogin = path.join(n.dir, 'helper.json')
    writeFileSync(noLogin, JSON.stringify({auths: {'registry.example.com': {}}, credsStore: 'desktop'}))
    const message = await failure(readRegistryCredentials({dockerConfig: noLogin}, {requireSignature}))
    expect(message).to.not.include(CANARY)
    expect(message).to.match(/^--docker-config "[^"]+" holds no username\/password for any registry/)
    expect(await readRegistryCredentials({dockerConfig: n.dockerConfig}, {requireSignature})).to.deep.equal({
      source: `--docker-config "${n.dockerConfig}"`,
      text: DOCKER_CONFIG,
    })
    if (process.getuid?.() !== 0) {
      chmodSync(n.dockerConfig, 0o000)
      expect(await failure(readRegistryCredentials({dockerConfig: n.dockerConfig}, {requireSignature}))).to.match(
        /cannot be read: permission denied/,
      )
    }
  })

  it('--docker-config-secret NAMESPACE/NAME: a docker-registry Secret read through the kubeconfig; other Secrets, bad names and missing ones refused in one line without the content', async () => {
    const n = node()
    const requireSignature = [{repositories: ['registry.example.com'], keys: []}]
    const api = await FakeKubeApiServer.start()
    try {
      const b64 = (text: string) => Buffer.from(text).toString('base64')
      const legacy = JSON.stringify({'registry.example.com': {auth: b64(`robot:${CANARY}`)}})
      api.seed({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'ci'}})
      api.seed({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {name: 'regcred', namespace: 'ci'},
        type: 'kubernetes.io/dockerconfigjson',
        data: {'.dockerconfigjson': b64(DOCKER_CONFIG)},
      })
      api.seed({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {name: 'old', namespace: 'ci'},
        type: 'kubernetes.io/dockercfg',
        data: {'.dockercfg': b64(legacy)},
      })
      api.seed({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {name: 'opaque', namespace: 'ci'},
        type: 'Opaque',
        data: {password: b64(CANARY)},
      })
      const cluster = await connectCluster({kubeconfig: await api.writeKubeconfig(path.join(n.dir, 'kubeconfig'))})
      const read = (secret: string) =>
        readRegistryCredentials({dockerConfigSecret: secret}, {requireSignature}, cluster)
      const failure = (secret: string) =>
        read(secret).then(
          () => '',
          (error: Error) => error.message,
        )
      expect(await read('ci/regcred')).to.deep.equal({
        source: '--docker-config-secret "ci/regcred"',
        text: DOCKER_CONFIG,
      })
      expect(JSON.parse((await read('ci/old'))!.text)).to.deep.equal({auths: JSON.parse(legacy)})
      const messages = {
        opaque: await failure('ci/opaque'),
        name: await failure('regcred'),
        missing: await failure('ci/nope'),
        both: await readRegistryCredentials(
          {dockerConfig: n.dockerConfig, dockerConfigSecret: 'ci/regcred'},
          {requireSignature},
          cluster,
        ).then(
          () => '',
          (error: Error) => error.message,
        ),
        unsigned: await readRegistryCredentials({dockerConfigSecret: 'ci/regcred'}, {}, cluster).then(
          () => '',
          (error: Error) => error.message,
        ),
      }
      expect(messages.opaque).to.equal(
        '--docker-config-secret "ci/opaque" is not a docker-registry Secret (type Opaque, expected kubernetes.io/dockerconfigjson with .dockerconfigjson); create one with "kubectl imgsec create-regcred" or "kubectl create secret docker-registry"',
      )
      expect(messages.name).to.equal(
        '--docker-config-secret regcred: expected NAMESPACE/NAME of a docker-registry Secret (kubectl create secret docker-registry), e.g. kube-system/regcred',
      )
      expect(messages.missing).to.equal('secrets "nope" in namespace "ci" not found')
      expect(messages.both).to.equal(
        'give the backend registry credentials once: --docker-config FILE or --docker-config-secret',
      )
      expect(messages.unsigned).to.match(/^--docker-config-secret gives the backend registry credentials/)
      for (const message of Object.values(messages)) expect(message).to.not.include(CANARY)
    } finally {
      await api.stop()
    }
  })
})

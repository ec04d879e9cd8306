import {expect} from 'chai'
import {generateKeyPairSync} from 'node:crypto'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {connectCluster} from '../../../../src/lib/cluster/connection.js'
import {disableWhitelist} from '../../../../src/lib/whitelist/disable.js'
import {enableWhitelist} from '../../../../src/lib/whitelist/enable.js'
import {whitelistPaths} from '../../../../src/lib/whitelist/files.js'
import {neededPermissions, undoPermissions} from '../../../../src/lib/whitelist/placements/deployment.js'
import type {WhitelistEnableOptions} from '../../../../src/lib/whitelist/plan.js'
import type {WhitelistState} from '../../../../src/lib/whitelist/state.js'
import {type DenyRule, FakeKubeApiServer} from '../../../support/fake-kube-api.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..')
const MANIFEST = path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml')
const IMAGE = `gcr.io/distroless/nodejs22-debian12@sha256:${'a'.repeat(64)}`
const NS = 'imgsec-system'

function node() {
  const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-rbac-'))
  const manifestsDir = path.join(dir, 'manifests')
  mkdirSync(manifestsDir)
  copyFileSync(MANIFEST, path.join(manifestsDir, 'kube-apiserver.yaml'))
  const key = path.join(dir, 'cosign.pub')
  writeFileSync(key, generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}))
  const dockerConfig = path.join(dir, 'config.json')
  writeFileSync(dockerConfig, JSON.stringify({auths: {'registry.example.com': {auth: 'cm9ib3Q6cGFzcw=='}}}))
  return {dir, key, dockerConfig, manifestsDir, configDir: path.join(dir, 'etc'), backupDir: path.join(dir, 'backups')}
}

/** A real (not dry) deployment-placement enable with --docker-config, so the credentials Secret is planned. */
function enableOptions(n: ReturnType<typeof node>): WhitelistEnableOptions {
  return {
    configDir: n.configDir,
    manifestsDir: n.manifestsDir,
    backupDir: n.backupDir,
    port: 8443,
    allowedRegistries: ['registry.example.com'],
    trustedKeys: [n.key],
    dockerConfig: n.dockerConfig,
    settings: {allowTTL: 50, denyTTL: 50, retryBackoff: 500, defaultAllow: true},
    backendTimeoutMs: 1000,
    force: false,
    dryRun: false,
    command: 'test',
    placement: 'deployment',
    backendImage: IMAGE,
    namespace: NS,
    nodePort: 30443,
    nodeAddress: '10.0.0.5',
    backend: 'imgsec',
    acceptLockoutRisk: false,
  }
}

async function withApi<T>(deny: DenyRule[], body: (api: FakeKubeApiServer, kubeconfig: string) => Promise<T>) {
  const api = await FakeKubeApiServer.start({deny})
  try {
    const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-rbac-kube-'))
    return await body(api, await api.writeKubeconfig(path.join(dir, 'kubeconfig')))
  } finally {
    await api.stop()
  }
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => 'no error',
    (error: Error) => error.message,
  )

/** What reached the fake besides reads and SelfSubjectAccessReviews. */
const writes = (api: FakeKubeApiServer) =>
  api.requests.filter((r) => r.method !== 'GET' && !r.path.includes('selfsubjectaccessreviews'))

describe('whitelist: the Deployment placement asks RBAC for everything it may do, before any change', () => {
  it('neededPermissions: get, create, update and delete on every kind it applies (a failed step deletes what it created; a re-run without --docker-config deletes the credentials Secret)', () => {
    const checks = neededPermissions({namespace: NS, nodeAddress: '10.0.0.5'})
    const verbs = ['get', 'create', 'update', 'delete']
    expect(checks).to.deep.equal([
      ...verbs.map((verb) => ({verb, resource: 'namespaces'})),
      ...verbs.map((verb) => ({verb, resource: 'secrets', namespace: NS})),
      ...verbs.map((verb) => ({verb, resource: 'configmaps', namespace: NS})),
      ...verbs.map((verb) => ({verb, resource: 'services', namespace: NS})),
      ...verbs.map((verb) => ({verb, resource: 'deployments', group: 'apps', namespace: NS})),
      ...verbs.map((verb) => ({verb, resource: 'poddisruptionbudgets', group: 'policy', namespace: NS})),
    ])
    // Without --node-address it reads the nodes for this node's address.
    expect(neededPermissions({namespace: NS}).at(-1)).to.deep.equal({verb: 'list', resource: 'nodes'})
  })

  for (const verb of ['get', 'create', 'update', 'delete']) {
    it(`enable --docker-config: RBAC without "${verb} secrets" is refused before anything is written, naming the verb and resource`, async () => {
      const n = node()
      const manifestBefore = readFileSync(path.join(n.manifestsDir, 'kube-apiserver.yaml'), 'utf8')
      await withApi([{verb, resource: 'secrets', namespace: NS}], async (api, kubeconfig) => {
        const cluster = await connectCluster({kubeconfig})
        const message = await failure(enableWhitelist(enableOptions(n), {cluster, warnNow() {}}))
        expect(message).to.equal(
          `RBAC does not allow you to ${verb} secrets in namespace ${NS}; the Deployment placement needs these (nothing was changed). Ask for them, use --as, or use the static placement`,
        )
        expect(writes(api)).to.deep.equal([])
        expect(api.getObject('namespaces', undefined, NS)).to.equal(undefined)
      })
      expect(existsSync(n.configDir)).to.equal(false)
      expect(readFileSync(path.join(n.manifestsDir, 'kube-apiserver.yaml'), 'utf8')).to.equal(manifestBefore)
    })
  }

  const objects = [
    {apiVersion: 'v1', kind: 'Namespace', metadata: {name: NS}},
    {apiVersion: 'v1', kind: 'Secret', metadata: {name: 'imgsec-webhook-tls', namespace: NS}},
    {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'imgsec-webhook-policy', namespace: NS}},
    {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'imgsec-webhook', namespace: NS}},
    {apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: {name: 'imgsec-webhook', namespace: NS}},
    {apiVersion: 'v1', kind: 'Service', metadata: {name: 'imgsec-webhook', namespace: NS}},
    {apiVersion: 'v1', kind: 'Secret', metadata: {name: 'imgsec-webhook-registry', namespace: NS}},
  ]

  it('undoPermissions: delete on each object state.json records (its API group, its namespace), each kind asked once', () => {
    expect(undoPermissions({objects})).to.deep.equal([
      {verb: 'delete', resource: 'namespaces'},
      {verb: 'delete', resource: 'secrets', namespace: NS},
      {verb: 'delete', resource: 'configmaps', namespace: NS},
      {verb: 'delete', resource: 'deployments', group: 'apps', namespace: NS},
      {verb: 'delete', resource: 'poddisruptionbudgets', group: 'policy', namespace: NS},
      {verb: 'delete', resource: 'services', namespace: NS},
    ])
    expect(undoPermissions({})).to.deep.equal([])
  })

  it('disable: RBAC without "delete secrets" is refused before the manifest or any object changes, naming the verb and resource', async () => {
    const n = node()
    const manifest = path.join(n.manifestsDir, 'kube-apiserver.yaml')
    const manifestBefore = readFileSync(manifest, 'utf8')
    mkdirSync(n.configDir)
    const state: WhitelistState = {
      version: 1,
      placement: 'deployment',
      objects,
      port: 8443,
      manifest,
      webhookUrl: 'https://10.0.0.5:30443/image_policy',
      enabledPlugin: true,
      setConfigFlag: true,
      addedVolumes: [],
      registryCredentials: `secret ${NS}/imgsec-webhook-registry`,
    }
    const stateFile = whitelistPaths(n.configDir).state
    writeFileSync(stateFile, JSON.stringify(state))
    await withApi([{verb: 'delete', resource: 'secrets', namespace: NS}], async (api, kubeconfig) => {
      api.seed({apiVersion: 'v1', kind: 'Namespace', metadata: {name: NS}})
      api.seed({apiVersion: 'v1', kind: 'Secret', metadata: {name: 'imgsec-webhook-registry', namespace: NS}})
      const cluster = await connectCluster({kubeconfig})
      const options = {
        configDir: n.configDir,
        manifestsDir: n.manifestsDir,
        backupDir: n.backupDir,
        force: false,
        command: 'test',
      }
      const message = await failure(disableWhitelist({...options, keepBackend: false}, cluster))
      expect(message).to.equal(
        `RBAC does not allow you to delete secrets in namespace ${NS}; "whitelist disable" deletes the backend's objects (nothing was changed). Ask for them, use --as, or pass --keep-backend to leave the backend running`,
      )
      expect(writes(api)).to.deep.equal([])
      expect(api.getObject('secrets', NS, 'imgsec-webhook-registry')).to.not.equal(undefined)
      expect(readFileSync(manifest, 'utf8')).to.equal(manifestBefore)
      expect(existsSync(stateFile)).to.equal(true)
      // --keep-backend deletes nothing in the cluster, so it asks nothing.
      api.requests.length = 0
      await disableWhitelist({...options, keepBackend: true}, cluster)
      expect(api.requests).to.deep.equal([])
      expect(existsSync(stateFile)).to.equal(false)
    })
  })
})

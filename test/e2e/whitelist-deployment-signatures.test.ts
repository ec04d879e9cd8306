import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {runCli} from '../support/cli.js'
import {controlPlaneNode, TEST_BACKEND_IMAGE} from '../support/control-plane-node.js'
import {generateKeyPair, signImage} from '../support/cosign.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {routeOf, verbOf} from '../support/fake-kube-api/routes.js'
import {dockerConfigJson, requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {reviewerFromKubeconfig} from '../support/webhook-process.js'

const CANARY = 'Deployment-Creds-Passw0rd-canary'
const USER = 'robot'
const NS = 'imgsec-system'

/**
 * What the requests from `from` on touched in the backend's namespace (and the namespace itself)
 * without a SelfSubjectAccessReview among them having asked for it first: the RBAC preflight must
 * cover every verb a run uses, or a user without one is stopped half-way.
 */
function unasked(api: FakeKubeApiServer, from: number): string[] {
  const asked = new Set<string>()
  const used = new Set<string>()
  for (const request of api.requests.slice(from)) {
    if (request.path.endsWith('/selfsubjectaccessreviews')) {
      const {verb, resource, group, namespace} = (request.body as any).spec.resourceAttributes
      asked.add(`${verb} ${resource}${group ? `.${group}` : ''}${namespace ? ` in ${namespace}` : ''}`)
      continue
    }
    const route = routeOf(request.path.split('/').filter(Boolean))
    if (!route || (route.namespace !== NS && !(route.def.resource === 'namespaces' && route.name === NS))) continue
    const {group, resource} = route.def
    const need = `${verbOf(request.method, route, request.query)} ${resource}${group ? `.${group}` : ''}${route.namespace ? ` in ${route.namespace}` : ''}`
    if (!asked.has(need)) used.add(need)
  }
  return [...used]
}

async function freeNodePort(): Promise<number> {
  for (;;) {
    const port = 30000 + Math.floor(Math.random() * 2767)
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer()
        .once('error', () => resolve(false))
        .listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
    })
    if (free) return port
  }
}

/**
 * Plays the Deployment controller, the kubelet's volume mounts and kube-proxy: once the Deployment
 * exists, each Secret and ConfigMap volume is written under `root` at its mount path, and the
 * container's command runs there on the node port (the mount paths in its arguments map to those
 * directories, as a mount would put them).
 */
function simulateDeployment(api: FakeKubeApiServer, root: string, nodePort: number): () => void {
  let backend: ChildProcess | undefined
  const timer = setInterval(() => {
    const deployment = api.getObject('deployments', NS, 'imgsec-webhook')
    if (!deployment) return
    const ready = {replicas: 2, readyReplicas: 2, availableReplicas: 2}
    // An updated Deployment: the running backend stands for its new pods (the tests change no policy).
    if (backend) {
      if (!deployment.status?.readyReplicas) api.seed({...deployment, status: ready})
      return
    }
    const spec = deployment.spec.template.spec
    const container = spec.containers[0]
    const mounts = new Map<string, string>()
    for (const mount of container.volumeMounts as Array<{name: string; mountPath: string}>) {
      const volume = spec.volumes.find((v: {name: string}) => v.name === mount.name)
      const dir = path.join(root, mount.mountPath)
      mkdirSync(dir, {recursive: true})
      mounts.set(mount.mountPath, dir)
      const data: Record<string, string> = volume.secret
        ? Object.fromEntries(
            Object.entries(api.getObject('secrets', NS, volume.secret.secretName)!.data as Record<string, string>).map(
              ([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')],
            ),
          )
        : api.getObject('configmaps', NS, volume.configMap.name)!.data
      for (const [file, content] of Object.entries(data)) writeFileSync(path.join(dir, file), content)
    }
    const mapped = (text: string) => {
      let out = text
      for (const [mountPath, dir] of mounts) out = out.split(`${mountPath}/`).join(`${dir}/`)
      return out
    }
    const args = (container.command as string[]).slice(1).map((arg) => mapped(arg))
    args[args.indexOf('--address') + 1] = '127.0.0.1'
    args[args.indexOf('--port') + 1] = String(nodePort)
    backend = spawn(process.execPath, args, {stdio: 'ignore'})
    api.seed({...deployment, status: ready})
  }, 100)
  return () => {
    clearInterval(timer)
    backend?.kill()
  }
}

describe('whitelist enable --backend-placement deployment --require-signature --docker-config (fake API server, deployment simulator, real registry with a login)', function () {
  this.timeout(120_000)
  let dir: string
  let registry: RunningRegistry
  const digests: Record<string, string> = {}
  let keyFile: string
  before(async function () {
    requireRegistry(this, 'the whitelist-deployment-signatures e2e tests')
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-wl-depsig-'))
    registry = await startRegistry({users: {[USER]: CANARY}})
    const credentials = {username: USER, password: CANARY}
    const key = await generateKeyPair(dir, 'cosign')
    keyFile = key.publicKeyFile
    for (const name of ['signed', 'unsigned'])
      digests[name] = (await registry.pushImage(`team/${name}`, '1.0', credentials)).digest
    await signImage(registry, 'team/signed', digests.signed, key, credentials)
  })
  after(async () => {
    await registry?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('the pods get the keys (beside the policy in its ConfigMap) and the credentials (Secret) and verify signatures; the output never shows the credentials; disable deletes both', async () => {
    const node = await controlPlaneNode(mkdtempSync(path.join(dir, 'node-')))
    const dockerConfig = path.join(dir, 'config.json')
    writeFileSync(dockerConfig, dockerConfigJson(registry.host, USER, CANARY))
    const api = await FakeKubeApiServer.start()
    const nodePort = await freeNodePort()
    const kubeconfig = await api.writeKubeconfig(path.join(node.dir, 'kubeconfig'))
    const stop = simulateDeployment(api, path.join(node.dir, 'pod'), nodePort)
    try {
      const enableArgs = [
        'whitelist',
        'enable',
        ...node.flags,
        '--backend-placement',
        'deployment',
        '--default-allow',
        '--node-port',
        String(nodePort),
        '--node-address',
        '127.0.0.1',
        '--backend-image',
        TEST_BACKEND_IMAGE,
        '--allowed-registries',
        `registry.k8s.io,${registry.host}`,
        '--require-signature',
        '--trusted-key',
        keyFile,
        '--docker-config',
        dockerConfig,
        '--kubeconfig',
        kubeconfig,
        '--backend-timeout',
        '30s',
      ]
      const result = await runCli(enableArgs)
      expect(result.code, result.stderr).to.equal(0)
      expect(unasked(api, 0)).to.deep.equal([])
      expect(result.stdout + result.stderr).to.not.include(CANARY)
      expect(result.stdout).to.contain('secret/imgsec-webhook-registry created')
      const policy = api.getObject('configmaps', NS, 'imgsec-webhook-policy')!.data
      const keyName = parseYaml(policy['policy.yaml']).requireSignature[0].keys[0] as string
      expect(policy[keyName]).to.equal(readFileSync(keyFile, 'utf8').replace(/\r?\n?$/, '\n'))
      const secret = api.getObject('secrets', NS, 'imgsec-webhook-registry')!
      expect(secret.type).to.equal('kubernetes.io/dockerconfigjson')
      expect(Buffer.from(secret.data['.dockerconfigjson'], 'base64').toString()).to.equal(
        readFileSync(dockerConfig, 'utf8'),
      )

      const decide = reviewerFromKubeconfig(path.join(node.configDir, 'webhook.kubeconfig'))
      // The registry refuses anonymous reads: an admission proves the pods logged in with the Secret.
      expect(await decide(`${registry.host}/team/signed@${digests.signed}`)).to.include({allowed: true})
      expect((await decide(`${registry.host}/team/unsigned@${digests.unsigned}`)).reason).to.include(
        'image-signature-missing',
      )

      const status = await runCli(['whitelist', 'status', ...node.flags, '-o', 'json'])
      expect(JSON.parse(status.stdout).registryCredentials).to.equal(`secret ${NS}/imgsec-webhook-registry`)
      expect(status.stdout).to.not.include(CANARY)

      // Enabled again without --docker-config: the Secret goes, the pods no longer read it.
      let from = api.requests.length
      const without = await runCli(
        enableArgs.filter((arg, i) => arg !== '--docker-config' && enableArgs[i - 1] !== '--docker-config'),
      )
      expect(without.code, without.stderr).to.equal(0)
      expect(without.stdout).to.contain('deleted secret/imgsec-webhook-registry')
      expect(unasked(api, from)).to.deep.equal([])
      expect(api.getObject('secrets', NS, 'imgsec-webhook-registry')).to.equal(undefined)
      expect(
        api.getObject('deployments', NS, 'imgsec-webhook')!.spec.template.spec.containers[0].command,
      ).to.not.include('--docker-config')

      from = api.requests.length
      const disabled = await runCli([
        'whitelist',
        'disable',
        '--config-dir',
        node.configDir,
        '--backup-dir',
        node.backupDir,
        '--kubeconfig',
        kubeconfig,
      ])
      expect(disabled.code, disabled.stderr).to.equal(0)
      expect(unasked(api, from)).to.deep.equal([])
      expect(api.getObject('secrets', NS, 'imgsec-webhook-registry')).to.equal(undefined)
    } finally {
      stop()
      await api.stop()
    }
  })
})

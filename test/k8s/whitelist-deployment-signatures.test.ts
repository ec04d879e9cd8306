import {expect} from 'chai'
import {generateKeyPairSync} from 'node:crypto'
import {copyFileSync, mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {applyObjects} from '../../src/lib/cluster/apply.js'
import {connectCluster, requireClient} from '../../src/lib/cluster/connection.js'
import {preflightAndPlan} from '../../src/lib/whitelist/enable.js'
import {bindPlacement} from '../../src/lib/whitelist/placements/index.js'
import type {ResolvedEnableOptions} from '../../src/lib/whitelist/plan.js'
import type {ControlPlane} from '../control-plane/control-plane.js'
import {KUBEADM_MANIFEST} from '../support/control-plane-node.js'
import {describeReal, freshNamespace, sharedControlPlane, tempDir, until} from './support.js'

const CANARY = 'K8s-Deployment-Creds-canary'

describeReal(
  'whitelist enable --backend-placement deployment --require-signature --docker-config-secret against the real kube-apiserver',
  function () {
    this.timeout(120_000)
    let plane: ControlPlane
    let secretNs: string
    before(async () => {
      plane = await sharedControlPlane()
      secretNs = await freshNamespace(plane, 'regcred')
      const created = await plane.kubectl([
        'create',
        'secret',
        'docker-registry',
        'regcred',
        '--docker-server',
        'registry.example.com',
        '--docker-username',
        'robot',
        '--docker-password',
        CANARY,
        '-n',
        secretNs,
      ])
      expect(created.code, created.stderr).to.equal(0)
    })

    it('reads the pull Secret, and the API server takes the objects: the credentials Secret as kubernetes.io/dockerconfigjson, the keys beside the policy, pods admitted under pod-security restricted', async () => {
      const dir = tempDir('imgsec-k8s-depsig-')
      mkdirSync(path.join(dir, 'manifests'))
      copyFileSync(KUBEADM_MANIFEST, path.join(dir, 'manifests', 'kube-apiserver.yaml'))
      const key = path.join(dir, 'cosign.pub')
      writeFileSync(
        key,
        generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}),
      )
      const namespace = `imgsec-sig-${process.pid}`
      const options = {
        configDir: path.join(dir, 'etc'),
        manifestsDir: path.join(dir, 'manifests'),
        backupDir: path.join(dir, 'backups'),
        port: 8443,
        allowedRegistries: ['registry.example.com', 'registry.k8s.io'],
        trustedKeys: [key],
        dockerConfigSecret: `${secretNs}/regcred`,
        settings: {allowTTL: 50, denyTTL: 50, retryBackoff: 500, defaultAllow: true},
        backendTimeoutMs: 1000,
        force: false,
        dryRun: false,
        command: 'test',
        placement: 'deployment',
        backendImage: `gcr.io/distroless/nodejs22-debian12@sha256:${'a'.repeat(64)}`,
        namespace,
        nodePort: 30443,
        nodeAddress: '127.0.0.1',
        backend: 'imgsec',
        acceptLockoutRisk: false,
      } as ResolvedEnableOptions
      const cluster = await connectCluster({kubeconfig: plane.kubeconfig})
      const {plan, dockerConfig} = await preflightAndPlan(options, bindPlacement(options), {cluster, warnNow: () => {}})
      expect(dockerConfig).to.include(Buffer.from(`robot:${CANARY}`).toString('base64'))
      expect(plan.backend.preview.map((f) => f.content).join('')).to.not.include(CANARY)
      const pair = {certPem: 'x', keyPem: 'y'}
      const objects = plan.backend.objects!.render({ca: pair, serving: pair, bundleText: '// bundle', dockerConfig})
      await applyObjects(requireClient(cluster), objects, 'none')

      const secret = JSON.parse(
        (await plane.kubectl(['get', 'secret', 'imgsec-webhook-registry', '-n', namespace, '-o', 'json'])).stdout,
      )
      expect(secret.type).to.equal('kubernetes.io/dockerconfigjson')
      expect(Buffer.from(secret.data['.dockerconfigjson'], 'base64').toString()).to.equal(dockerConfig)
      const policy = JSON.parse(
        (await plane.kubectl(['get', 'configmap', 'imgsec-webhook-policy', '-n', namespace, '-o', 'json'])).stdout,
      )
      expect(Object.keys(policy.data).sort()[0]).to.equal('policy.yaml')
      expect(Object.keys(policy.data)).to.have.length(2)
      // The ReplicaSet's pods pass pod-security "restricted" with the credentials' volume (no kubelet runs them).
      await until('a pod of the backend, admitted', async () => {
        const pods = JSON.parse((await plane.kubectl(['get', 'pods', '-n', namespace, '-o', 'json'])).stdout)
        return pods.items.length > 0 ? true : undefined
      })
      await plane.kubectl(['delete', 'namespace', namespace, '--wait=false'])
    })
  },
)

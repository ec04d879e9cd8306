import {expect} from 'chai'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parse as parseYaml} from 'yaml'

import {connectCluster, NO_CLUSTER} from '../../../src/lib/cluster/connection.js'
import type {BackupRecord} from '../../../src/lib/controlplane/backups.js'
import {planApiserverPatch} from '../../../src/lib/controlplane/patch-apiserver.js'
import {createCertificateAuthority, issueCertificate} from '../../../src/lib/whitelist/certificates.js'
import {FakeKubeApiServer} from '../../support/fake-kube-api.js'
import {preflightAndPlan} from '../../../src/lib/whitelist/enable.js'
import {renderPolicyFile, whitelistPaths} from '../../../src/lib/whitelist/files.js'
import {sha256} from '../../../src/lib/whitelist/node-files.js'
import {materialize} from '../../../src/lib/whitelist/placements/static.js'
import {bindPlacement, PLACEMENTS} from '../../../src/lib/whitelist/placements/index.js'
import type {WhitelistState} from '../../../src/lib/whitelist/state.js'
import {
  acceptPolicyProblems,
  type ApplyMaterial,
  renderDryRun,
  type ResolvedEnableOptions,
  type WhitelistPlan,
} from '../../../src/lib/whitelist/plan.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const MANIFEST = path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml')
const IMAGE = `gcr.io/distroless/nodejs22-debian12@sha256:${'a'.repeat(64)}`

async function node() {
  const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-plan-'))
  mkdirSync(path.join(dir, 'manifests'))
  copyFileSync(MANIFEST, path.join(dir, 'manifests', 'kube-apiserver.yaml'))
  const ca = path.join(dir, 'backend-ca.crt')
  writeFileSync(ca, (await createCertificateAuthority('test backend CA')).certPem)
  return {
    dir,
    configDir: path.join(dir, 'etc'),
    manifestsDir: path.join(dir, 'manifests'),
    manifest: path.join(dir, 'manifests', 'kube-apiserver.yaml'),
    ca,
  }
}

const common = (n: Awaited<ReturnType<typeof node>>, dryRun = true) => ({
  configDir: n.configDir,
  manifestsDir: n.manifestsDir,
  backupDir: path.join(n.dir, 'backups'),
  port: 8443,
  allowedRegistries: ['docker.io', 'registry.k8s.io'],
  settings: {allowTTL: 50, denyTTL: 50, retryBackoff: 500, defaultAllow: false},
  backendTimeoutMs: 1000,
  force: false,
  dryRun,
  command: 'test',
})

async function planOf(options: ResolvedEnableOptions): Promise<{plan: WhitelistPlan; impact: string[]; now: string[]}> {
  const now: string[] = []
  const {plan, impact} = await preflightAndPlan(options, bindPlacement(options), {
    cluster: NO_CLUSTER,
    warnNow: (w) => now.push(w),
  })
  return {plan, impact, now}
}

const pair = (name: string) => ({certPem: `${name} certificate`, keyPem: `${name} key`})
const material: ApplyMaterial = {ca: pair('ca'), serving: pair('serving'), bundleText: 'the bundle'}

describe('whitelist enable: the plan of each placement', () => {
  it('static: a static pod on 127.0.0.1, the backend files owned by its user, the shared files and the manifest edit', async () => {
    const n = await node()
    const {plan, impact} = await planOf({...common(n), placement: 'static', backendImage: IMAGE})
    const paths = whitelistPaths(n.configDir)
    expect(impact).to.deep.equal([
      'impact: not checked (no cluster in the kubeconfig; on a control-plane node pass --kubeconfig /etc/kubernetes/admin.conf)',
    ])
    expect(plan.target).to.deep.equal({webhookUrl: 'https://127.0.0.1:8443/image_policy', servingHosts: ['127.0.0.1']})
    expect(plan.trustedCa).to.equal(paths.caCert)
    expect(plan.backend.dir).to.deep.equal({path: paths.backendDir, owner: 65532})
    expect(
      plan.backend.files.map((f) => [path.relative(n.configDir, f.path), f.mode.toString(8), f.owner]),
    ).to.deep.equal([
      ['backend/serving.crt', '644', 65532],
      ['backend/serving.key', '600', 65532],
      ['backend/client-ca.crt', '644', 65532],
      ['backend/policy.yaml', '644', 65532],
      ['backend/imgsec-webhook.mjs', '644', 65532],
    ])
    expect(plan.backend.files.map((f) => materialize(f.content, material))).to.deep.equal([
      'serving certificate',
      'serving key',
      'ca certificate',
      plan.policyFile.content,
      'the bundle',
    ])
    expect(plan.backend.staticPod?.path).to.equal(path.join(n.manifestsDir, 'imgsec-webhook.yaml'))
    const pod = parseYaml(plan.backend.staticPod?.content ?? '')
    expect(pod.spec.containers[0].image).to.equal(IMAGE)
    expect(pod.spec.containers[0].command.slice(-4)).to.deep.equal(['--address', '127.0.0.1', '--port', '8443'])
    expect(plan.policyDigest).to.equal(sha256(plan.policyFile.content))
    expect(plan.policy.allowedRegistries).to.deep.equal(['docker.io', 'registry.k8s.io'])
    expect(plan.webhookKubeconfig.content).to.contain('server: https://127.0.0.1:8443/image_policy')
    expect(parseYaml(plan.admissionConfig.content).plugins[0].configuration.imagePolicy).to.deep.equal({
      kubeConfigFile: paths.webhookKubeconfig,
      allowTTL: 50,
      denyTTL: 50,
      retryBackoff: 500,
      defaultAllow: false,
    })
    expect(plan.apiserverEdit).to.deep.equal({
      enablePlugins: ['ImagePolicyWebhook'],
      admissionConfig: paths.admissionConfig,
      hostPaths: [paths.configDir],
    })
    expect(plan.backend.notAnsweringHint).to.contain(plan.backend.staticPod?.path)
    expect(existsSync(n.configDir)).to.equal(false)
  })

  it('deployment: its namespace is exempted, objects with placeholders for keys, the node address (IPv6 in brackets) and the NodePort', async () => {
    const n = await node()
    const {plan} = await planOf({
      ...common(n),
      placement: 'deployment',
      backendImage: IMAGE,
      namespace: 'imgsec-x',
      nodePort: 30444,
      nodeAddress: 'fd00::5',
      backend: 'imgsec',
      acceptLockoutRisk: true,
    })
    expect(plan.target.webhookUrl).to.equal('https://[fd00::5]:30444/image_policy')
    expect(plan.target.servingHosts).to.deep.equal([
      'fd00::5',
      'imgsec-webhook.imgsec-x.svc',
      'imgsec-webhook.imgsec-x.svc.cluster.local',
      '127.0.0.1',
    ])
    expect(plan.policy.exemptNamespaces).to.include('imgsec-x')
    expect(plan.backend.files).to.deep.equal([])
    expect(plan.backend.staticPod).to.equal(undefined)
    expect(plan.backend.preview.map((f) => f.path)).to.deep.equal([
      'Namespace/imgsec-x',
      'Secret/imgsec-x/imgsec-webhook-tls',
      'ConfigMap/imgsec-x/imgsec-webhook-policy',
      'ConfigMap/imgsec-x/imgsec-webhook-code',
      'Deployment/imgsec-x/imgsec-webhook',
      'PodDisruptionBudget/imgsec-x/imgsec-webhook',
      'Service/imgsec-x/imgsec-webhook',
    ])
    expect(parseYaml(plan.backend.preview[1].content).data).to.deep.equal({
      'tls.crt': '<generated at apply time>',
      'tls.key': '<generated at apply time>',
      'ca.crt': '<generated at apply time>',
    })
    expect(parseYaml(plan.backend.preview[2].content).data['policy.yaml']).to.equal(plan.policyFile.content)
    // At apply time the same function renders the real material.
    const objects = plan.backend.objects?.render(material) ?? []
    expect(objects.map((o) => o.kind)).to.deep.equal([
      'Namespace',
      'Secret',
      'ConfigMap',
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
    ])
    expect(Buffer.from(objects[1].data['tls.key'], 'base64').toString()).to.equal('serving key')
    expect(objects[3].data['imgsec-webhook.mjs']).to.equal('the bundle')
    expect(objects[6].spec.ports[0].nodePort).to.equal(30444)
    expect(plan.policyDigest).to.equal(sha256(plan.policyFile.content))
  })

  it('deployment with defaultAllow false: refused by name unless the risk is accepted', async () => {
    const n = await node()
    let error: Error | undefined
    await planOf({
      ...common(n),
      placement: 'deployment',
      backendImage: IMAGE,
      namespace: 'imgsec-system',
      nodePort: 30443,
      backend: 'imgsec',
      acceptLockoutRisk: false,
    }).catch((caught: Error) => {
      error = caught
    })
    expect(error?.message).to.match(
      /^the Deployment placement with defaultAllow false can lock the cluster out: .*pass --accept-lockout-risk$/,
    )
  })

  it('external: no backend of ours, the kubeconfig trusts --webhook-ca, no policy digest is asked for', async () => {
    const n = await node()
    const {plan} = await planOf({
      ...common(n),
      placement: 'external',
      webhookUrl: 'https://imgsec.example.com/image_policy',
      webhookCa: n.ca,
    })
    expect(plan.target.webhookUrl).to.equal('https://imgsec.example.com/image_policy')
    expect(plan.trustedCa).to.equal(n.ca)
    expect(plan.backend.preview).to.deep.equal([])
    expect(plan.backend.files).to.deep.equal([])
    expect(plan.backend.reportsPolicyDigest).to.equal(false)
    expect(plan.policyDigest).to.equal(undefined)
    expect(plan.webhookKubeconfig.content).to.contain(`certificate-authority: ${n.ca}`)
    // The API server must see --webhook-ca inside its pod: its directory is mounted too.
    expect(plan.apiserverEdit.hostPaths).to.deep.equal([n.configDir, n.dir])
  })
})

describe('whitelist enable --dry-run=client prints the plan', () => {
  it("the documents are the plan's files, the backend preview and the patched manifest, in that order", async () => {
    const n = await node()
    const {plan} = await planOf({...common(n), placement: 'static', backendImage: IMAGE})
    const docs = renderDryRun(plan)
    expect(docs.map((d) => d.path)).to.deep.equal([
      plan.policyFile.path,
      plan.webhookKubeconfig.path,
      plan.admissionConfig.path,
      plan.backend.staticPod?.path,
      `${n.manifest} (patched)`,
    ])
    expect(docs[0].content).to.equal(renderPolicyFile(plan.policy))
    expect(docs[1].content).to.equal(plan.webhookKubeconfig.content)
    expect(docs[2].content).to.equal(plan.admissionConfig.content)
    expect(docs[3].content).to.equal(plan.backend.staticPod?.content)
    expect(docs[4].content).to.contain('--enable-admission-plugins=NodeRestriction,ImagePolicyWebhook')
    expect(docs[4].content).to.contain(`--admission-control-config-file=${plan.apiserverEdit.admissionConfig}`)
    expect(docs[4].content).to.contain(`- mountPath: ${n.configDir}\n`)
    expect(docs.map((d) => d.content).join('')).to.not.contain('PRIVATE KEY')
    expect(readdirSync(n.manifestsDir)).to.deep.equal(['kube-apiserver.yaml'])
  })

  it('a real run plans exactly what the dry run prints (static and external)', async () => {
    for (const placement of ['static', 'external'] as const) {
      const n = await node()
      const specific =
        placement === 'static'
          ? {placement, backendImage: IMAGE}
          : {placement, webhookUrl: 'https://imgsec.example.com/image_policy', webhookCa: n.ca}
      const dry = await planOf({...common(n, true), ...specific} as ResolvedEnableOptions)
      const real = await planOf({...common(n, false), ...specific} as ResolvedEnableOptions)
      expect(renderDryRun(real.plan), placement).to.deep.equal(renderDryRun(dry.plan))
      expect(real.plan.backend.files).to.deep.equal(dry.plan.backend.files)
    }
  })

  it('deployment: the real run asks the cluster (permissions, version) and plans what the dry run prints', async () => {
    const n = await node()
    const api = await FakeKubeApiServer.start()
    try {
      const options = {
        ...common(n, false),
        placement: 'deployment' as const,
        backendImage: IMAGE,
        namespace: 'imgsec-system',
        nodePort: 30443,
        nodeAddress: '10.0.0.5',
        backend: 'imgsec' as const,
        acceptLockoutRisk: true,
      }
      const cluster = await connectCluster({kubeconfig: await api.writeKubeconfig(path.join(n.dir, 'kubeconfig'))})
      const real = await preflightAndPlan(options, bindPlacement(options), {cluster, warnNow: () => {}})
      const dry = await planOf({...options, dryRun: true})
      expect(renderDryRun(real.plan)).to.deep.equal(renderDryRun(dry.plan))
      expect(real.impact[0]).to.match(/^impact: none of the \d+ running pods would be refused$/)
      expect(real.plan.warnings.at(-1)).to.match(
        /^the backend runs in the cluster \(namespace imgsec-system\): if all its pods are gone, every pod creation and update in every namespace is refused/,
      )
      expect(dry.plan.warnings).to.deep.equal([])
      expect(api.requests.some((r) => r.path.includes('selfsubjectaccessreviews'))).to.equal(true)
      expect(
        api.requests.filter((r) => r.method !== 'GET' && !r.path.includes('selfsubjectaccessreviews')),
      ).to.deep.equal([])
    } finally {
      await api.stop()
    }
  })

  it('the real run refuses what the dry run only shows: an image not pinned by digest', async () => {
    const n = await node()
    await planOf({...common(n, true), placement: 'static', backendImage: 'nginx:1.27'})
    let error: Error | undefined
    await planOf({...common(n, false), placement: 'static', backendImage: 'nginx:1.27'}).catch((caught: Error) => {
      error = caught
    })
    expect(error?.message).to.equal(
      '--backend-image nginx:1.27 must be pinned by digest (…@sha256:…): the control plane must not run a moving tag',
    )
  })

  it('policy problems refuse the plan unless forced; forced, they become warnings', () => {
    expect(() => acceptPolicyProblems(['the policy would refuse X'], false)).to.throw(
      'refusing a policy that would block the control plane:\n  the policy would refuse X\npass --force to enable it anyway',
    )
    expect(acceptPolicyProblems(['the policy would refuse X'], true)).to.deep.equal([
      'forced despite: the policy would refuse X',
    ])
    expect(acceptPolicyProblems([], false)).to.deep.equal([])
  })
})

describe('whitelist disable: each placement undoes its backend', () => {
  const state = (extra: Partial<WhitelistState>): WhitelistState => ({
    version: 1,
    placement: 'static',
    port: 8443,
    manifest: '/m',
    webhookUrl: 'https://127.0.0.1:8443/image_policy',
    enabledPlugin: true,
    setConfigFlag: true,
    addedVolumes: [],
    ...extra,
  })
  const context = (dir: string) => ({
    cluster: NO_CLUSTER,
    backupDir: path.join(dir, 'backups'),
    command: 'test',
    changes: [] as string[],
    backups: [] as BackupRecord[],
  })

  it('static: the static pod file is backed up, then removed (the kubelet stops the backend); a second undo does nothing', async () => {
    const n = await node()
    const pod = path.join(n.manifestsDir, 'imgsec-webhook.yaml')
    writeFileSync(pod, 'kind: Pod\n')
    const ctx = context(n.dir)
    await PLACEMENTS.static.undo(state({staticPod: pod}), ctx)
    expect(readdirSync(n.manifestsDir)).to.deep.equal(['kube-apiserver.yaml'])
    expect(ctx.changes).to.deep.equal([`removed static pod ${pod} (the kubelet stops the backend)`])
    expect(ctx.backups).to.have.length(1)
    expect(readFileSync(ctx.backups[0].backup, 'utf8')).to.equal('kind: Pod\n')
    await PLACEMENTS.static.undo(state({staticPod: pod}), ctx)
    expect(ctx.changes).to.have.length(1)
  })

  it('deployment: nothing recorded, nothing asked; objects recorded but no cluster: the kubeconfig problem is the error', async () => {
    const n = await node()
    const ctx = context(n.dir)
    await PLACEMENTS.deployment.undo(state({placement: 'deployment'}), ctx)
    expect(ctx.changes).to.deep.equal([])
    let error: Error | undefined
    await PLACEMENTS.deployment
      .undo(
        state({
          placement: 'deployment',
          objects: [{apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'imgsec-system'}}],
        }),
        ctx,
      )
      .catch((caught: Error) => {
        error = caught
      })
    expect(error?.message).to.equal('no cluster')
  })

  it('external: nothing of ours ran, nothing to undo', async () => {
    const n = await node()
    const ctx = context(n.dir)
    await PLACEMENTS.external.undo(state({placement: 'external'}), ctx)
    expect(ctx).to.deep.include({changes: [], backups: []})
  })
})

describe('whitelist enable: the manifest the dry run shows is the one a run writes', () => {
  it("renderDryRun's patched manifest equals planApiserverPatch's, once the plan's files exist (static, external)", async () => {
    for (const placement of ['static', 'external'] as const) {
      const n = await node()
      const specific =
        placement === 'static'
          ? {placement, backendImage: IMAGE}
          : {placement, webhookUrl: 'https://127.0.0.1:1/image_policy', webhookCa: n.ca}
      const {plan} = await planOf({...common(n, false), ...specific} as ResolvedEnableOptions)
      const shown = renderDryRun(plan).at(-1)?.content
      // What a run writes before it patches the manifest: the certificates and the two files.
      const ca = await createCertificateAuthority('test CA')
      const client = await issueCertificate(ca, {commonName: 'kube-apiserver-imgsec-client', usage: 'client'})
      mkdirSync(plan.paths.pkiDir, {recursive: true})
      writeFileSync(plan.paths.caCert, ca.certPem)
      writeFileSync(plan.paths.clientCert, client.certPem)
      writeFileSync(plan.paths.clientKey, client.keyPem)
      for (const file of [plan.webhookKubeconfig, plan.admissionConfig]) writeFileSync(file.path, file.content)
      const patch = await planApiserverPatch({
        manifest: plan.manifest,
        backupDir: path.join(n.dir, 'backups'),
        enablePlugins: plan.apiserverEdit.enablePlugins,
        disablePlugins: [],
        admissionConfig: plan.apiserverEdit.admissionConfig,
        setFlags: {},
        removeFlags: [],
        hostPaths: plan.apiserverEdit.hostPaths,
        force: false,
      })
      expect(shown, placement).to.equal(patch.manifest.after)
    }
  })
})

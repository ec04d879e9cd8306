import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {get as httpsGet} from 'node:https'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {hostname} from 'node:os'

import {versionWarning} from '../../src/lib/whitelist/smoke.js'
import {runCli} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {httpsRequest, type TlsClient} from '../support/https-client.js'
import {
  type ControlPlaneNode,
  controlPlaneNode as makeNode,
  enableOn,
  KUBEADM_MANIFEST,
  TEST_BACKEND_IMAGE,
} from '../support/control-plane-node.js'
import {startKubeletSimulator} from '../support/kubelet-simulator.js'

const ORIGINAL = readFileSync(KUBEADM_MANIFEST, 'utf8')
const BACKEND_IMAGE = TEST_BACKEND_IMAGE

const controlPlaneNode = () => makeNode(mkdtempSync(path.join(tmpdir(), 'imgsec-wl-')))
type Node = ControlPlaneNode

const post = (url: string, body: string, tls: TlsClient) => httpsRequest(url, tls, body)

describe('whitelist enable/status/disable (built CLI, static pod played by a kubelet simulator)', () => {
  let node: Node
  let kubelet: ReturnType<typeof startKubeletSimulator>
  const enableArgs = () => [
    ...enableOn(node, BACKEND_IMAGE),
    '--allowed-registries',
    'docker.io,registry.k8s.io',
    '--backend-timeout',
    '30s',
  ]
  before(async () => {
    node = await controlPlaneNode()
    kubelet = startKubeletSimulator(node.manifestsDir, 'imgsec-webhook.yaml')
  })
  after(async () => {
    await kubelet?.stop()
  })

  it('enable: files, a hardened static pod, a backend that answers, then the API server manifest', async () => {
    const result = await runCli(enableArgs())
    expect(result.code, `${result.stderr}\n${kubelet.output()}`).to.equal(0)
    expect(result.stdout).to.contain('registry whitelist enabled:')
    expect(result.stdout).to.contain(
      'while the backend does not answer: kube-apiserver refuses every pod creation and update in every namespace, kube-system included (defaultAllow: false); "kubectl imgsec whitelist status" says whether it answers\n',
    )
    expect(result.stdout).to.match(
      /backend check: https:\/\/127\.0\.0\.1:\d+\/image_policy answered a test ImageReview for nginx:latest: denied/,
    )
    const manifest = readFileSync(node.manifest, 'utf8')
    expect(manifest).to.contain('--enable-admission-plugins=NodeRestriction,ImagePolicyWebhook')
    expect(manifest).to.contain(
      `--admission-control-config-file=${path.join(node.configDir, 'admission-configuration.yaml')}`,
    )
    expect(manifest).to.contain(`- mountPath: ${node.configDir}\n`)
    expect(statSync(node.configDir).mode & 0o777).to.equal(0o700)
    for (const key of [
      'pki/ca.key',
      'pki/apiserver-client.key',
      'backend/serving.key',
      'webhook.kubeconfig',
      'admission-configuration.yaml',
    ]) {
      expect(statSync(path.join(node.configDir, key)).mode & 0o777, key).to.equal(0o600)
    }
    const admission = parseYaml(readFileSync(path.join(node.configDir, 'admission-configuration.yaml'), 'utf8'))
    expect(admission.plugins[0].configuration.imagePolicy).to.deep.equal({
      kubeConfigFile: path.join(node.configDir, 'webhook.kubeconfig'),
      allowTTL: 50,
      denyTTL: 50,
      retryBackoff: 500,
      defaultAllow: false,
    })
    expect(readdirSync(node.manifestsDir).sort()).to.deep.equal(['imgsec-webhook.yaml', 'kube-apiserver.yaml'])
  })

  it('several control-plane nodes: enable changed this node only; status on another says its API server does not gate pods', async () => {
    const other = await controlPlaneNode()
    const status = await runCli(['whitelist', 'status', ...other.flags])
    expect(status.code, status.stderr).to.equal(0)
    expect(status.stdout.split('\n')[0]).to.equal(
      'pod creation:          not gated: ImagePolicyWebhook is not enabled in the kube-apiserver manifest',
    )
    // This node's API server does gate them.
    const here = await runCli(['whitelist', 'status', ...node.flags])
    expect(here.stdout.split('\n')[0]).to.match(/^pod creation: +checked/)
  })

  it('the static pod passes our own audit', async () => {
    const result = await runCli([
      'audit',
      'images',
      '-f',
      path.join(node.manifestsDir, 'imgsec-webhook.yaml'),
      '-o',
      'json',
      '--fail-on',
      'low',
    ])
    expect(result.code, result.stdout).to.equal(0)
    expect(JSON.parse(result.stdout).summary.total).to.equal(0)
  })

  it('a client built from the rendered kubeconfig, as the API server does, gets decisions', async () => {
    const kubeconfig = parseYaml(readFileSync(path.join(node.configDir, 'webhook.kubeconfig'), 'utf8'))
    expect(kubeconfig['current-context']).to.be.a('string')
    const cluster = kubeconfig.clusters[0].cluster
    const user = kubeconfig.users[0].user
    const tls = {
      ca: readFileSync(cluster['certificate-authority'], 'utf8'),
      cert: readFileSync(user['client-certificate'], 'utf8'),
      key: readFileSync(user['client-key'], 'utf8'),
    }
    const review = (image: string) =>
      JSON.stringify({
        apiVersion: 'imagepolicy.k8s.io/v1alpha1',
        kind: 'ImageReview',
        spec: {containers: [{image}], namespace: 'default'},
      })
    expect(
      JSON.parse((await post(cluster.server, review('quay.io/evil/miner:1.0'), tls)).body).status.allowed,
    ).to.equal(false)
    expect(
      JSON.parse((await post(cluster.server, review('registry.k8s.io/pause:3.10'), tls)).body).status.allowed,
    ).to.equal(true)
  })

  it('a second enable changes nothing', async () => {
    const manifest = readFileSync(node.manifest, 'utf8')
    const backups = readdirSync(node.backupDir).length
    const runs = kubelet.runs()
    const result = await runCli(enableArgs())
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(/^registry whitelist already enabled: nothing changed\n/)
    expect(readFileSync(node.manifest, 'utf8')).to.equal(manifest)
    expect(readdirSync(node.backupDir).length).to.equal(backups)
    expect(kubelet.runs()).to.equal(runs)
  })

  it("a re-run with another allowlist returns only once the backend decides by it (its /healthz names the policy file's sha256)", async () => {
    const kubeconfig = parseYaml(readFileSync(path.join(node.configDir, 'webhook.kubeconfig'), 'utf8'))
    const cluster = kubeconfig.clusters[0].cluster
    const user = kubeconfig.users[0].user
    const tls = {
      ca: readFileSync(cluster['certificate-authority'], 'utf8'),
      cert: readFileSync(user['client-certificate'], 'utf8'),
      key: readFileSync(user['client-key'], 'utf8'),
    }
    const allowed = async (image: string) =>
      JSON.parse(
        (
          await post(
            cluster.server,
            JSON.stringify({
              apiVersion: 'imagepolicy.k8s.io/v1alpha1',
              kind: 'ImageReview',
              spec: {containers: [{image}], namespace: 'default'},
            }),
            tls,
          )
        ).body,
      ).status.allowed
    const withQuay = await runCli(
      enableArgs().map((arg) => (arg === 'docker.io,registry.k8s.io' ? 'docker.io,registry.k8s.io,quay.io' : arg)),
    )
    expect(withQuay.code, withQuay.stderr).to.equal(0)
    // No wait here: enable itself waited for the reload.
    expect(await allowed('quay.io/acme/app:1.0')).to.equal(true)
    const digest = await new Promise<string | string[] | undefined>((resolve, reject) => {
      httpsGet(new URL('/healthz', cluster.server), {...tls}, (res) => {
        res.resume()
        resolve(res.headers['x-imgsec-policy-sha256'])
      }).on('error', reject)
    })
    expect(digest).to.equal(
      createHash('sha256')
        .update(readFileSync(path.join(node.configDir, 'backend', 'policy.yaml')))
        .digest('hex'),
    )
    const back = await runCli(enableArgs())
    expect(back.code, back.stderr).to.equal(0)
    expect(await allowed('quay.io/acme/app:1.0')).to.equal(false)
  })

  it('status reports the plugin, the files, the backend and the policy', async () => {
    const result = await runCli(['whitelist', 'status', ...node.flags, '-o', 'json'])
    expect(result.code, result.stderr).to.equal(0)
    const status = JSON.parse(result.stdout)
    expect(status).to.deep.include({enabled: true, pluginEnabled: true})
    expect(status.admissionConfig.settings).to.deep.equal({
      allowTTL: 50,
      denyTTL: 50,
      retryBackoff: 500,
      defaultAllow: false,
    })
    expect(status.backend).to.include({placement: 'static', healthy: true, answering: true})
    expect(status.policy.allowedRegistries).to.deep.equal(['docker.io', 'registry.k8s.io'])
    expect(status.podCreation).to.deep.equal({
      state: 'checked',
      detail: `checked: the backend at https://127.0.0.1:${node.port}/image_policy answers; images outside the allowlist are refused`,
    })
    expect(status.certificates.map((c: {name: string; daysLeft: number}) => [c.name, c.daysLeft])).to.deep.equal([
      ['CA', 3649],
      ['serving', 824],
      ['API server client', 824],
    ])
    expect(status.warnings).to.deep.equal([])
    const table = await runCli(['whitelist', 'status', ...node.flags])
    expect(table.code).to.equal(0)
    expect(table.stdout).to.match(
      /^certificates: +CA 3649 days left, serving 824 days left, API server client 824 days left$/m,
    )
    expect(table.stdout).to.match(
      /^pod creation: +checked: the backend at \S+ answers; images outside the allowlist are refused\nwhitelist enforced: +yes\n/,
    )
  })

  it('rotate-certs: new serving and client certificates from the same CA; the running backend serves the new one, no restart', async () => {
    const serving = path.join(node.configDir, 'backend', 'serving.crt')
    const client = path.join(node.configDir, 'pki', 'apiserver-client.crt')
    const before = {serving: readFileSync(serving, 'utf8'), client: readFileSync(client, 'utf8')}
    const runs = kubelet.runs()
    const result = await runCli(['whitelist', 'rotate-certs', '--config-dir', node.configDir])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(
      new RegExp(
        `^renewed the serving certificate ${serving} \\(127\\.0\\.0\\.1\\) until \\S+\\nrenewed the API server's client certificate ${client} until \\S+\\n$`,
      ),
    )
    expect(readFileSync(serving, 'utf8')).not.to.equal(before.serving)
    expect(readFileSync(client, 'utf8')).not.to.equal(before.client)
    expect(statSync(path.join(node.configDir, 'backend', 'serving.key')).mode & 0o777).to.equal(0o600)
    const {X509Certificate} = await import('node:crypto')
    const wanted = new X509Certificate(readFileSync(serving)).fingerprint256
    const tls = {
      ca: readFileSync(path.join(node.configDir, 'pki', 'ca.crt'), 'utf8'),
      cert: readFileSync(client, 'utf8'),
      key: readFileSync(path.join(node.configDir, 'pki', 'apiserver-client.key'), 'utf8'),
    }
    let presented = ''
    for (let i = 0; i < 50 && presented !== wanted; i++) {
      presented = await new Promise<string>((resolve, reject) => {
        httpsGet(`https://127.0.0.1:${node.port}/healthz`, {...tls, agent: false}, (res) => {
          res.resume()
          resolve((res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256)
        }).on('error', reject)
      })
      if (presented !== wanted) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(presented).to.equal(wanted)
    expect(kubelet.runs(), 'the kubelet did not restart the backend').to.equal(runs)
    const review = JSON.stringify({
      apiVersion: 'imagepolicy.k8s.io/v1alpha1',
      kind: 'ImageReview',
      spec: {containers: [{image: 'quay.io/evil/miner:1.0'}], namespace: 'default'},
    })
    expect(
      JSON.parse((await post(`https://127.0.0.1:${node.port}/image_policy`, review, tls)).body).status.allowed,
    ).to.equal(false)
    expect(kubelet.output()).to.contain('"event":"tls-reloaded"')
  })

  it('status warns when a certificate expires within 30 days', async () => {
    const {issueCertificate} = await import('../../src/lib/whitelist/certificates.js')
    const serving = path.join(node.configDir, 'backend', 'serving.crt')
    const original = readFileSync(serving, 'utf8')
    const ca = {
      certPem: readFileSync(path.join(node.configDir, 'pki', 'ca.crt'), 'utf8'),
      keyPem: readFileSync(path.join(node.configDir, 'pki', 'ca.key'), 'utf8'),
    }
    try {
      writeFileSync(
        serving,
        (await issueCertificate(ca, {commonName: 'short', usage: 'server', hosts: ['127.0.0.1'], days: 10})).certPem,
      )
      const result = await runCli(['whitelist', 'status', ...node.flags])
      expect(result.stdout).to.match(
        /^certificates: +CA 3649 days left, serving 9 days left, API server client 824 days left$/m,
      )
      expect(result.stderr).to.match(
        new RegExp(
          `^warning: the serving certificate ${serving} expires in 9 days \\(.*\\): then the API server can no longer reach the backend, and with defaultAllow false every pod is refused; renew it before then \\(kubectl imgsec whitelist rotate-certs\\)$`,
          'm',
        ),
      )
    } finally {
      writeFileSync(serving, original)
    }
  })

  it('add-registry / remove-registry change the policy in place and the backend follows; twice changes nothing', async () => {
    const add = await runCli([
      'whitelist',
      'add-registry',
      'myprivateregistry.com:5000',
      '--config-dir',
      node.configDir,
    ])
    expect(add.code, add.stderr).to.equal(0)
    expect(add.stdout).to.equal(
      'allowed registries: docker.io, registry.k8s.io, myprivateregistry.com:5000\nthe backend reloaded the policy\n',
    )
    expect(
      (await runCli(['whitelist', 'add-registry', 'myprivateregistry.com:5000', '--config-dir', node.configDir]))
        .stdout,
    ).to.equal('myprivateregistry.com:5000 is already allowed: nothing changed\n')
    const remove = await runCli([
      'whitelist',
      'remove-registry',
      'myprivateregistry.com:5000',
      '--config-dir',
      node.configDir,
    ])
    expect(remove.stdout).to.equal('allowed registries: docker.io, registry.k8s.io\nthe backend reloaded the policy\n')
    expect(
      (await runCli(['whitelist', 'remove-registry', 'myprivateregistry.com:5000', '--config-dir', node.configDir]))
        .stdout,
    ).to.equal('myprivateregistry.com:5000 was not allowed: nothing changed\n')
    const bad = await runCli(['whitelist', 'add-registry', 'https://x', '--config-dir', node.configDir])
    expect(bad.code).to.equal(1)
    expect(bad.stderr).to.match(/^error: "https:\/\/x": expected a registry host/)
  })

  it('disable removes exactly what enable added: the original manifest bytes, no static pod', async () => {
    const result = await runCli([
      'whitelist',
      'disable',
      '--config-dir',
      node.configDir,
      '--backup-dir',
      node.backupDir,
    ])
    expect(result.code, result.stderr).to.equal(0)
    expect(readFileSync(node.manifest, 'utf8')).to.equal(ORIGINAL)
    expect(readdirSync(node.manifestsDir)).to.deep.equal(['kube-apiserver.yaml'])
    expect(existsSync(path.join(node.configDir, 'state.json'))).to.equal(false)
    const status = JSON.parse((await runCli(['whitelist', 'status', ...node.flags, '-o', 'json'])).stdout)
    expect(status.enabled).to.equal(false)
    const again = await runCli([
      'whitelist',
      'disable',
      '--config-dir',
      node.configDir,
      '--backup-dir',
      node.backupDir,
      '--manifests-dir',
      node.manifestsDir,
    ])
    expect(again.code).to.equal(1)
    expect(again.stderr).to.contain('was not enabled by kubectl-imgsec')
    // disable took away the files enable wrote: nothing a later run would take for leftovers.
    expect(existsSync(node.configDir) ? readdirSync(node.configDir) : []).to.deep.equal([])
  })
})

describe('whitelist disable after an enable that never finished (no state.json)', () => {
  /** What an enable killed half-way by an older version could leave: keys, configuration, the static pod. */
  function leftovers(node: Awaited<ReturnType<typeof controlPlaneNode>>): void {
    mkdirSync(path.join(node.configDir, 'pki'), {recursive: true})
    mkdirSync(path.join(node.configDir, 'backend'), {recursive: true})
    writeFileSync(path.join(node.configDir, 'pki', 'ca.key'), 'key', {mode: 0o600})
    writeFileSync(
      path.join(node.configDir, 'admission-configuration.yaml'),
      'apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\n',
    )
    writeFileSync(path.join(node.manifestsDir, 'imgsec-webhook.yaml'), 'apiVersion: v1\nkind: Pod\n')
  }

  it('removes what it left while the API server does not use it; a second run finds nothing', async () => {
    const node = await controlPlaneNode()
    leftovers(node)
    const result = await runCli(['whitelist', 'disable', ...node.flags])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.contain(
      `removed static pod ${path.join(node.manifestsDir, 'imgsec-webhook.yaml')} left by an unfinished enable`,
    )
    expect(readdirSync(node.manifestsDir)).to.deep.equal(['kube-apiserver.yaml'])
    expect(existsSync(node.configDir)).to.equal(false)
    expect(readFileSync(node.manifest, 'utf8')).to.equal(ORIGINAL)
    const again = await runCli(['whitelist', 'disable', ...node.flags])
    expect(again.code).to.equal(1)
    expect(again.stderr).to.match(/nothing of an unfinished enable is left there/)
  })

  it('leaves everything while the manifest still names the config dir, and says to restore it first', async () => {
    const node = await controlPlaneNode()
    leftovers(node)
    writeFileSync(
      node.manifest,
      ORIGINAL.replace(
        '- --allow-privileged=true',
        `- --allow-privileged=true\n    - --admission-control-config-file=${path.join(node.configDir, 'admission-configuration.yaml')}`,
      ),
    )
    const result = await runCli(['whitelist', 'disable', ...node.flags])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(
      /still names .* \(an enable that stopped half-way\): restore it first with "kubectl imgsec patch-apiserver --restore"/,
    )
    expect(readdirSync(node.manifestsDir).sort()).to.deep.equal(['imgsec-webhook.yaml', 'kube-apiserver.yaml'])
    expect(existsSync(path.join(node.configDir, 'pki', 'ca.key'))).to.equal(true)
  })
})

describe('whitelist enable refuses, and leaves the API server alone', () => {
  describe('flags that do nothing in the chosen mode are refused, saying where they apply', () => {
    for (const [args, message] of [
      [
        ['--mode', 'vap', '--backend-placement', 'deployment'],
        '--backend-placement applies only to the ImagePolicyWebhook mode (without --mode vap)',
      ],
      [
        ['--mode', 'vap', '--default-allow'],
        '--default-allow applies only to the ImagePolicyWebhook mode (without --mode vap)',
      ],
      [['--dry-run=client', '-o', 'json'], '--output applies only to --mode vap'],
      [['--params-namespace', 'x'], '--params-namespace applies only to --mode vap'],
      [['--node-port', '30443'], '--node-port applies only to --backend-placement deployment'],
      [['--backend-placement', 'deployment', '--port', '9443'], '--port applies only to --backend-placement static'],
      [['--webhook-url', 'https://x/image_policy'], '--webhook-url applies only to --backend-placement external'],
      [['--timeout', '1m'], '--timeout applies only with --wait'],
    ] as Array<[string[], string]>) {
      it(args.join(' '), async () => {
        const node = await controlPlaneNode()
        const result = await runCli([
          'whitelist',
          'enable',
          ...node.flags,
          '--allowed-registries',
          'docker.io',
          ...args,
        ])
        expect(result.code).to.equal(1)
        expect(result.stderr).to.equal(`error: ${message}\n`)
        expect(readFileSync(node.manifest, 'utf8')).to.equal(ORIGINAL)
        expect(existsSync(node.configDir)).to.equal(false)
      })
    }
  })

  it('when the backend never answers', async () => {
    const node = await controlPlaneNode()
    const result = await runCli([
      ...enableOn(node, BACKEND_IMAGE),
      '--allowed-registries',
      'docker.io,registry.k8s.io',
      '--backend-timeout',
      '2s',
    ])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(
      /^error: the image policy backend is not answering, so the API server was NOT changed: https:\/\/127\.0\.0\.1:\d+\/healthz did not answer within 2s.* \(everything this run had written or created was removed again\)\n$/,
    )
    expect(readFileSync(node.manifest, 'utf8')).to.equal(ORIGINAL)
    // Nothing half-made: no static pod left for the kubelet to run, no keys, no configuration.
    expect(readdirSync(node.manifestsDir)).to.deep.equal(['kube-apiserver.yaml'])
    expect(existsSync(node.configDir)).to.equal(false)
    const status = await runCli(['whitelist', 'status', ...node.flags, '-o', 'json'])
    expect(JSON.parse(status.stdout).podCreation.state).to.equal('not-gated')
  })

  it('a policy that would block the control plane', async () => {
    const node = await controlPlaneNode()
    const policy = path.join(node.dir, 'policy.yaml')
    writeFileSync(policy, 'allowedRegistries: [docker.io]\nexemptNamespaces: []\n')
    const result = await runCli([
      'whitelist',
      'enable',
      ...node.flags,
      '--policy',
      policy,
      '--backend-image',
      BACKEND_IMAGE,
    ])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.contain('refusing a policy that would block the control plane')
    expect(result.stderr).to.contain(
      'registry.k8s.io/kube-apiserver:v1.32.0 in kube-system (image-registry-not-allowed)',
    )
    expect(existsSync(node.configDir)).to.equal(false)
  })

  it('a backend image given by tag whose registry is unreachable (air-gapped): one line, nothing written', async () => {
    const node = await controlPlaneNode()
    const manifestBefore = readFileSync(node.manifest, 'utf8')
    const result = await runCli([
      'whitelist',
      'enable',
      ...node.flags,
      '--backend-image',
      '127.0.0.1:1/node:22',
      '--allowed-registries',
      'docker.io,registry.k8s.io',
    ])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(
      /^error: cannot resolve the digest of --backend-image 127\.0\.0\.1:1\/node:22 \(.*\); without access to 127\.0\.0\.1:1, name the image by digest: --backend-image 127\.0\.0\.1:1\/node@sha256:…/,
    )
    expect(result.stderr.trim().split('\n')).to.have.length(1)
    expect(readFileSync(node.manifest, 'utf8')).to.equal(manifestBefore)
  })

  it('without write permission on the manifest: a plain message, nothing written', async function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv')) this.skip()
    const node = await controlPlaneNode()
    chmodSync(node.dir, 0o755)
    chmodSync(node.manifestsDir, 0o755)
    chmodSync(node.manifest, 0o644)
    const {runCliAsNobody} = await import('../support/cli.js')
    const result = await runCliAsNobody([
      'whitelist',
      'enable',
      ...node.flags,
      '--backend-image',
      BACKEND_IMAGE,
      '--allowed-registries',
      'docker.io,registry.k8s.io',
    ])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.equal(
      `error: cannot write ${node.manifest}: run "whitelist enable" as root on the control-plane node (sudo); nothing was changed\n`,
    )
    expect(existsSync(node.configDir)).to.equal(false)
  })

  it('without an allowlist: says how to give one, nothing written; --allow-any-registry is the explicit way out', async () => {
    const node = await controlPlaneNode()
    const result = await runCli(['whitelist', 'enable', ...node.flags, '--backend-image', BACKEND_IMAGE])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.equal(
      'error: a registry whitelist needs its registries: pass --allowed-registries (e.g. docker.io,registry.k8s.io) or a --policy file with allowedRegistries; to enforce only the tag rules on every registry, pass --allow-any-registry\n',
    )
    expect(existsSync(node.configDir)).to.equal(false)
    expect(readFileSync(node.manifest, 'utf8')).to.equal(ORIGINAL)
    const vap = await runCli(['whitelist', 'enable', '--mode', 'vap', '--dry-run=client', '-o', 'yaml'])
    expect(vap.code).to.equal(1)
    expect(vap.stderr).to.match(/^error: a registry whitelist needs its registries/)
    const any = await runCli([
      'whitelist',
      'enable',
      ...node.flags,
      '--backend-image',
      BACKEND_IMAGE,
      '--allow-any-registry',
      '--dry-run=client',
    ])
    expect(any.code, any.stderr).to.equal(0)
    expect(any.stdout).to.contain('admission-configuration.yaml')
  })

  it('--webhook-ca missing or not a certificate: names the flag and the problem in words, nothing written', async () => {
    const node = await controlPlaneNode()
    const notACert = path.join(node.dir, 'ca.crt')
    writeFileSync(notACert, 'Canary-Not-A-Cert-42\n')
    const external = [
      'whitelist',
      'enable',
      ...node.flags,
      '--backend-placement',
      'external',
      '--webhook-url',
      'https://imgsec.example.com/image_policy',
      '--allowed-registries',
      'docker.io,registry.k8s.io',
    ]
    const missing = await runCli([...external, '--webhook-ca', path.join(node.dir, 'nope.crt')])
    expect(missing.code).to.equal(1)
    expect(missing.stderr).to.equal(
      `error: --webhook-ca ${path.join(node.dir, 'nope.crt')} cannot be read: no such file or directory\n`,
    )
    const bad = await runCli([...external, '--webhook-ca', notACert])
    expect(bad.code).to.equal(1)
    expect(bad.stderr).to.equal(
      `error: --webhook-ca ${notACert} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)\n`,
    )
    expect(existsSync(node.configDir)).to.equal(false)
    expect(readFileSync(node.manifest, 'utf8')).to.equal(ORIGINAL)
  })

  it('not on a control-plane node', async () => {
    const result = await runCli([
      'whitelist',
      'enable',
      '--manifests-dir',
      '/nonexistent/manifests',
      '--backend-image',
      BACKEND_IMAGE,
      '--allowed-registries',
      'docker.io,registry.k8s.io',
    ])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.contain(
      '/nonexistent/manifests/kube-apiserver.yaml does not exist: run "whitelist enable" on a control-plane node',
    )
  })
})

describe('whitelist enable --wait (fake API server, kubelet simulator)', () => {
  it('waits for the restart, then smoke-tests with server-side dry-run pods and says when a pod is not refused', async () => {
    const node = await controlPlaneNode()
    const kubelet = startKubeletSimulator(node.manifestsDir, 'imgsec-webhook.yaml')
    const api = await FakeKubeApiServer.start()
    const mirror = (hash: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `kube-apiserver-${hostname()}`,
        namespace: 'kube-system',
        labels: {component: 'kube-apiserver'},
        annotations: {'kubernetes.io/config.hash': hash},
      },
      spec: {containers: [{name: 'kube-apiserver', image: 'registry.k8s.io/kube-apiserver:v1.32.0'}]},
    })
    api.seed(mirror('before'))
    try {
      const kubeconfig = await api.writeKubeconfig(path.join(node.dir, 'kubeconfig'))
      const run = runCli([
        ...enableOn(node, BACKEND_IMAGE),
        '--allowed-registries',
        'docker.io,registry.k8s.io',
        '--kubeconfig',
        kubeconfig,
        '--wait',
        '--timeout',
        '30s',
      ])
      // The real kubelet restarts kube-apiserver when its manifest changes: a new config hash.
      while (readFileSync(node.manifest, 'utf8') === ORIGINAL) await new Promise((resolve) => setTimeout(resolve, 50))
      api.seed(mirror('after'))
      const result = await run
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.contain('kube-apiserver is ready')
      // The fake API server runs no admission plugins, so the smoke test must notice that nginx:latest got in.
      expect(result.stdout).to.contain('smoke test: pod with nginx:latest: admitted — expected refused')
      expect(result.stdout).to.contain('smoke test: pod with nginx:1.27: admitted (as expected)')
      expect(result.stderr).to.contain('warning: the whitelist does not decide as expected for nginx:latest')
      const smoke = api.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces/default/pods')
      expect(smoke.map((r) => r.query.dryRun)).to.deep.equal(['All', 'All'])
      expect(api.listObjects('pods', 'default')).to.deep.equal([])
    } finally {
      await kubelet.stop()
      await api.stop()
    }
  })

  it('versionWarning flags API servers before 1.27.3 (CVE-2023-2727)', () => {
    expect(versionWarning('v1.27.2')).to.contain('CVE-2023-2727')
    expect(versionWarning('v1.26.15')).to.contain('CVE-2023-2727')
    expect(versionWarning('v1.27.3')).to.equal(undefined)
    expect(versionWarning('v1.32.0')).to.equal(undefined)
  })
})

describe('whitelist enable --backend-placement deployment (fake API server, deployment simulator)', () => {
  async function freeNodePort(): Promise<number> {
    const {createServer} = await import('node:net')
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

  it('deploys the backend objects, waits for them, points the API server at the node port; disable deletes them', async () => {
    const node = await controlPlaneNode()
    const api = await FakeKubeApiServer.start()
    const nodePort = await freeNodePort()
    const kubeconfig = await api.writeKubeconfig(path.join(node.dir, 'kubeconfig'))
    const {spawn} = await import('node:child_process')
    let backend: ReturnType<typeof spawn> | undefined
    // Play the Deployment controller and kube-proxy: once the objects exist, run the backend from
    // the Secret and ConfigMaps on the node port, and mark the Deployment ready.
    const simulator = setInterval(() => {
      const deployment = api.getObject('deployments', 'imgsec-system', 'imgsec-webhook')
      if (!deployment || backend) return
      const secret = api.getObject('secrets', 'imgsec-system', 'imgsec-webhook-tls')!
      const files = path.join(node.dir, 'pod')
      mkdirSync(files, {recursive: true})
      for (const key of ['tls.crt', 'tls.key', 'ca.crt'])
        writeFileSync(path.join(files, key), Buffer.from(secret.data[key], 'base64'))
      writeFileSync(
        path.join(files, 'policy.yaml'),
        api.getObject('configmaps', 'imgsec-system', 'imgsec-webhook-policy')!.data['policy.yaml'],
      )
      writeFileSync(
        path.join(files, 'imgsec-webhook.mjs'),
        api.getObject('configmaps', 'imgsec-system', 'imgsec-webhook-code')!.data['imgsec-webhook.mjs'],
      )
      backend = spawn(
        process.execPath,
        [
          path.join(files, 'imgsec-webhook.mjs'),
          '--cert',
          path.join(files, 'tls.crt'),
          '--key',
          path.join(files, 'tls.key'),
          '--client-ca',
          path.join(files, 'ca.crt'),
          '--policy',
          path.join(files, 'policy.yaml'),
          '--address',
          '127.0.0.1',
          '--port',
          String(nodePort),
        ],
        {stdio: 'ignore'},
      )
      api.seed({...deployment, status: {replicas: 2, readyReplicas: 2, availableReplicas: 2}})
    }, 100)
    try {
      const result = await runCli([
        'whitelist',
        'enable',
        ...node.flags,
        '--backend-placement',
        'deployment',
        '--accept-lockout-risk',
        '--node-port',
        String(nodePort),
        '--node-address',
        '127.0.0.1',
        '--backend-image',
        BACKEND_IMAGE,
        '--allowed-registries',
        'docker.io,registry.k8s.io',
        '--kubeconfig',
        kubeconfig,
        '--backend-timeout',
        '30s',
      ])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stderr).to.contain(
        'warning: the backend runs in the cluster (namespace imgsec-system): if all its pods are gone, every pod creation and update in every namespace is refused (defaultAllow: false), its own replacement pods included',
      )
      expect(result.stdout).to.contain('deployment.apps/imgsec-webhook created')
      expect(result.stdout).to.contain(
        `backend check: https://127.0.0.1:${nodePort}/image_policy answered a test ImageReview for nginx:latest: denied`,
      )
      const service = api.getObject('services', 'imgsec-system', 'imgsec-webhook')!
      expect(service.spec).to.deep.include({type: 'NodePort'})
      expect(service.spec.ports[0].nodePort).to.equal(nodePort)
      expect(api.getObject('deployments', 'imgsec-system', 'imgsec-webhook')!.spec.replicas).to.equal(2)
      expect(api.getObject('poddisruptionbudgets', 'imgsec-system', 'imgsec-webhook')!.spec.minAvailable).to.equal(1)
      expect(api.getObject('configmaps', 'imgsec-system', 'imgsec-webhook-policy')!.data['policy.yaml']).to.match(
        /exemptNamespaces:\n- kube-system\n- imgsec-system\n/,
      )
      expect(readFileSync(node.manifest, 'utf8')).to.contain(
        '--enable-admission-plugins=NodeRestriction,ImagePolicyWebhook',
      )

      const disable = await runCli([
        'whitelist',
        'disable',
        '--config-dir',
        node.configDir,
        '--backup-dir',
        node.backupDir,
        '--kubeconfig',
        kubeconfig,
      ])
      expect(disable.code, disable.stderr).to.equal(0)
      expect(readFileSync(node.manifest, 'utf8')).to.equal(ORIGINAL)
      expect(api.getObject('deployments', 'imgsec-system', 'imgsec-webhook')).to.equal(undefined)
      expect(api.getObject('namespaces', undefined, 'imgsec-system')).to.equal(undefined)
    } finally {
      clearInterval(simulator)
      backend?.kill()
      await api.stop()
    }
  })
})

describe('whitelist enable --backend-placement deployment: the lockout risk', () => {
  it('with defaultAllow false it is refused, naming the risk and the way out, unless --accept-lockout-risk or --default-allow', async () => {
    const node = await controlPlaneNode()
    const base = [
      'whitelist',
      'enable',
      ...node.flags,
      '--backend-placement',
      'deployment',
      '--node-address',
      '10.0.0.5',
      '--backend-image',
      BACKEND_IMAGE,
      '--allowed-registries',
      'docker.io,registry.k8s.io',
      '--dry-run=client',
    ]
    const refused = await runCli(base)
    expect(refused.code).to.equal(1)
    expect(refused.stderr).to.match(
      /^error: the Deployment placement with defaultAllow false can lock the cluster out: .* pass --accept-lockout-risk\n$/,
    )
    expect((await runCli([...base, '--accept-lockout-risk'])).code).to.equal(0)
    expect((await runCli([...base, '--default-allow'])).code).to.equal(0)
    expect(existsSync(node.configDir)).to.equal(false)
  })
})

describe('whitelist enable --dry-run=client', () => {
  it('prints every file and object as YAML documents, writes nothing, prints no key', async () => {
    const node = await controlPlaneNode()
    for (const placement of ['static', 'deployment']) {
      const result = await runCli([
        'whitelist',
        'enable',
        ...node.flags,
        '--backend-placement',
        placement,
        ...(placement === 'deployment' ? ['--accept-lockout-risk', '--node-address', '10.0.0.5'] : []),
        '--backend-image',
        BACKEND_IMAGE,
        '--allowed-registries',
        'docker.io,registry.k8s.io',
        '--dry-run=client',
      ])
      expect(result.code, result.stderr).to.equal(0)
      const {parseAllDocuments} = await import('yaml')
      const docs = parseAllDocuments(result.stdout)
      expect(docs.every((doc) => doc.errors.length === 0)).to.equal(true)
      const headers = result.stdout.split('\n').filter((line) => line.startsWith('# '))
      expect(headers).to.include(`# ${path.join(node.configDir, 'admission-configuration.yaml')}`)
      expect(headers).to.include(`# ${node.manifest} (patched)`)
      expect(result.stdout).to.not.contain('PRIVATE KEY')
      if (placement === 'static') expect(headers).to.include(`# ${path.join(node.manifestsDir, 'imgsec-webhook.yaml')}`)
      else {
        expect(headers).to.include('# Deployment/imgsec-system/imgsec-webhook')
        expect(result.stdout).to.contain('server: https://10.0.0.5:30443/image_policy')
      }
    }
    expect(readFileSync(node.manifest, 'utf8')).to.equal(ORIGINAL)
    expect(existsSync(node.configDir)).to.equal(false)
    expect(existsSync(node.backupDir)).to.equal(false)
  })

  it("--backend bouncer: the seeds' image and flags, and a loud warning that it enforces no allowlist", async () => {
    const node = await controlPlaneNode()
    const bouncer = `kainlite/kube-image-bouncer@sha256:${'b'.repeat(64)}`
    const result = await runCli([
      'whitelist',
      'enable',
      ...node.flags,
      '--backend-placement',
      'deployment',
      '--accept-lockout-risk',
      '--backend',
      'bouncer',
      '--node-address',
      '10.0.0.5',
      '--backend-image',
      bouncer,
      '--allowed-registries',
      'docker.io,registry.k8s.io',
      '--dry-run=client',
    ])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.match(
      /^WARNING: KUBE-IMAGE-BOUNCER DOES NOT ENFORCE THE REGISTRY ALLOWLIST on \/image_policy/,
    )
    expect(result.stdout).to.contain(`image: ${bouncer}`)
    expect(result.stdout).to.contain('- --registry-whitelist=docker.io,registry.k8s.io')
    expect(result.stdout).to.contain('targetPort: 1323')
    expect(result.stdout).to.not.contain('imgsec-webhook-code')
    const missing = await runCli(['whitelist', 'enable', ...node.flags, '--backend', 'bouncer'])
    expect(missing.stderr).to.contain('--backend bouncer needs --backend-placement deployment and --backend-image')
  })
})

describe('whitelist with an existing --admission-control-config-file (EventRateLimit)', () => {
  it('enable merges our plugin into that file and keeps the flag; disable restores both files byte for byte', async () => {
    const node = await controlPlaneNode()
    const kubelet = startKubeletSimulator(node.manifestsDir, 'imgsec-webhook.yaml')
    try {
      const existing = path.join(node.dir, 'admission.yaml')
      const existingText =
        '# cluster admission config\napiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: EventRateLimit\n  path: eventconfig.yaml\n'
      writeFileSync(existing, existingText)
      writeFileSync(
        path.join(node.dir, 'eventconfig.yaml'),
        'apiVersion: eventratelimit.admission.k8s.io/v1alpha1\nkind: Configuration\nlimits: [{type: Server, qps: 50, burst: 100}]\n',
      )
      const manifestText = ORIGINAL.replace(
        '    - --enable-admission-plugins=NodeRestriction',
        `    - --admission-control-config-file=${existing}\n    - --enable-admission-plugins=NodeRestriction,EventRateLimit`,
      )
      writeFileSync(node.manifest, manifestText)
      const enable = await runCli([
        ...enableOn(node, BACKEND_IMAGE),
        '--allowed-registries',
        'docker.io,registry.k8s.io',
        '--backend-timeout',
        '30s',
      ])
      expect(enable.code, enable.stderr).to.equal(0)
      expect(readFileSync(existing, 'utf8')).to.contain('- name: EventRateLimit')
      expect(readFileSync(existing, 'utf8')).to.contain('- name: ImagePolicyWebhook')
      const patched = readFileSync(node.manifest, 'utf8')
      expect(patched).to.contain(`--admission-control-config-file=${existing}`)
      expect(patched).to.contain('--enable-admission-plugins=NodeRestriction,EventRateLimit,ImagePolicyWebhook')
      const disable = await runCli([
        'whitelist',
        'disable',
        '--config-dir',
        node.configDir,
        '--backup-dir',
        node.backupDir,
      ])
      expect(disable.code, disable.stderr).to.equal(0)
      expect(readFileSync(existing, 'utf8')).to.equal(existingText)
      expect(readFileSync(node.manifest, 'utf8')).to.equal(manifestText)
    } finally {
      await kubelet.stop()
    }
  })
})

describe('whitelist enable --backend-placement deployment: RBAC preflight', () => {
  it('asks SelfSubjectAccessReviews first and stops, naming what is missing, before anything is written', async () => {
    const node = await controlPlaneNode()
    const api = await FakeKubeApiServer.start()
    try {
      api.deny({verb: 'create', resource: 'deployments', namespace: 'imgsec-system'})
      api.deny({verb: 'create', resource: 'poddisruptionbudgets', namespace: 'imgsec-system'})
      const kubeconfig = await api.writeKubeconfig(path.join(node.dir, 'kubeconfig'))
      const result = await runCli([
        'whitelist',
        'enable',
        ...node.flags,
        '--backend-placement',
        'deployment',
        '--accept-lockout-risk',
        '--node-address',
        '127.0.0.1',
        '--backend-image',
        BACKEND_IMAGE,
        '--allowed-registries',
        'docker.io,registry.k8s.io',
        '--kubeconfig',
        kubeconfig,
      ])
      expect(result.code).to.equal(1)
      expect(result.stderr).to.equal(
        'error: RBAC does not allow you to create deployments.apps in namespace imgsec-system, create poddisruptionbudgets.policy in namespace imgsec-system; the Deployment placement needs these (nothing was changed). Ask for them, use --as, or use the static placement\n',
      )
      expect(api.getObject('namespaces', undefined, 'imgsec-system')).to.equal(undefined)
      expect(
        api.requests.filter((r) => r.method !== 'GET' && !r.path.includes('selfsubjectaccessreviews')),
      ).to.deep.equal([])
      expect(readFileSync(node.manifest, 'utf8')).to.equal(ORIGINAL)
      expect(existsSync(node.configDir)).to.equal(false)
    } finally {
      await api.stop()
    }
  })
})

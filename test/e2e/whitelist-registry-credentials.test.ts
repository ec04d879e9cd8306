import {expect} from 'chai'
import {existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml, parseAllDocuments} from 'yaml'

import {runCli} from '../support/cli.js'
import {controlPlaneNode, type ControlPlaneNode, enableOn, TEST_BACKEND_IMAGE} from '../support/control-plane-node.js'
import {generateKeyPair, signImage, type TestKeyPair} from '../support/cosign.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {startKubeletSimulator} from '../support/kubelet-simulator.js'
import {dockerConfigJson, requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {buildTestImage, DEBIAN_LIKE, DISTROLESS_LIKE, layerOf, pushTestImage} from '../support/test-images.js'
import {reviewerFromKubeconfig} from '../support/webhook-process.js'

// The registry password: in the docker config and nowhere in any output.
const CANARY = 'Whitelist-Creds-Passw0rd-canary'
const USER = 'signer'

function expectNoCanary(result: {stdout: string; stderr: string}): void {
  expect(result.stdout, 'stdout').not.to.contain(CANARY)
  expect(result.stderr, 'stderr').not.to.contain(CANARY)
  expect(result.stdout + result.stderr, 'base64 of the login').not.to.contain(
    Buffer.from(`${USER}:${CANARY}`).toString('base64'),
  )
}

describe('whitelist enable --docker-config (built CLI, kubelet simulator, real registry with a login)', function () {
  this.timeout(120_000)
  let dir: string
  let key: TestKeyPair
  let dockerConfig: string
  const signatureFlags = () => ['--require-signature', '--trusted-key', key.publicKeyFile]
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-wl-creds-'))
    key = await generateKeyPair(dir, 'cosign')
    dockerConfig = path.join(dir, 'config.json')
    writeFileSync(dockerConfig, dockerConfigJson('127.0.0.1', USER, CANARY))
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('--dry-run=client: the static pod reads the credentials, which are shown as a placeholder only', async () => {
    const node = await controlPlaneNode(mkdtempSync(path.join(dir, 'node-')))
    const result = await runCli([
      'whitelist',
      'enable',
      ...node.flags,
      '--backend-image',
      TEST_BACKEND_IMAGE,
      '--allowed-registries',
      'registry.example.com',
      ...signatureFlags(),
      '--docker-config',
      dockerConfig,
      '--dry-run=client',
    ])
    expect(result.code, result.stderr).to.equal(0)
    expectNoCanary(result)
    const file = path.join(node.configDir, 'backend', 'docker-config.json')
    expect(result.stdout).to.include(
      `# ${file}\n<registry credentials from --docker-config "${dockerConfig}": not printed>\n`,
    )
    const pod = parseAllDocuments(result.stdout)
      .map((doc) => doc.toJS())
      .find((doc) => doc?.kind === 'Pod')
    expect(pod.spec.containers[0].command.slice(-2)).to.deep.equal(['--docker-config', file])
    expect(existsSync(node.configDir)).to.equal(false)
  })

  it('--mode vap: the flag is refused (there is no backend to give credentials to)', async () => {
    const result = await runCli([
      'whitelist',
      'enable',
      '--mode',
      'vap',
      '--allowed-registries',
      'docker.io',
      '--docker-config',
      dockerConfig,
    ])
    expect(result.stderr).to.equal(
      'error: --docker-config applies only to the ImagePolicyWebhook mode (without --mode vap)\n',
    )
    expect(result.code).to.equal(1)
  })

  const badConfigs: Array<[string, string, (file: string) => string]> = [
    [
      'not JSON',
      `{"auths": {"127.0.0.1": {"auth": "${CANARY}"`,
      (file) => `error: --docker-config "${file}" is not valid JSON (`,
    ],
    [
      'an auth that is not base64 of user:password',
      JSON.stringify({auths: {'127.0.0.1': {auth: `${CANARY}!`}}}),
      (file) =>
        `error: --docker-config "${file}": auths["127.0.0.1"].auth is not base64 of "username:password" (docker reads standard base64 with its = padding)\n`,
    ],
  ]
  for (const [label, content, message] of badConfigs) {
    it(`a docker config that is ${label}: one error line naming the flag and file, never its content; nothing written`, async () => {
      const node = await controlPlaneNode(mkdtempSync(path.join(dir, 'node-')))
      const file = path.join(dir, `bad-${label.length}.json`)
      writeFileSync(file, content)
      for (const debug of [[], ['--debug']]) {
        const result = await runCli([
          'whitelist',
          'enable',
          ...node.flags,
          '--backend-image',
          TEST_BACKEND_IMAGE,
          '--allowed-registries',
          'registry.example.com',
          ...signatureFlags(),
          '--docker-config',
          file,
          ...debug,
        ])
        expect(result.code).to.equal(1)
        expect(result.stderr.startsWith(message(file)), result.stderr).to.equal(true)
        expect(result.stderr.split('\n')[0]).to.not.include(CANARY)
        expectNoCanary(result)
        expect(existsSync(node.configDir)).to.equal(false)
      }
    })
  }

  it('a later step that fails takes the installed credentials away again', async () => {
    const node = await controlPlaneNode(mkdtempSync(path.join(dir, 'node-')))
    // No kubelet: the backend never answers.
    const result = await runCli([
      ...enableOn(node, TEST_BACKEND_IMAGE),
      '--allowed-registries',
      'registry.k8s.io,registry.example.com',
      ...signatureFlags(),
      '--docker-config',
      dockerConfig,
      '--backend-timeout',
      '2s',
    ])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(/\(everything this run had written or created was removed again\)\n$/)
    expectNoCanary(result)
    expect(existsSync(node.configDir)).to.equal(false)
    expect(readdirSync(node.manifestsDir)).to.deep.equal(['kube-apiserver.yaml'])
  })

  describe('enabled on a simulated node', () => {
    let node: ControlPlaneNode
    let kubelet: ReturnType<typeof startKubeletSimulator>
    let registry: RunningRegistry
    const digests: Record<string, string> = {}
    before(async function () {
      requireRegistry(this, 'the whitelist-registry-credentials e2e tests')
      registry = await startRegistry({users: {[USER]: CANARY}})
      const credentials = {username: USER, password: CANARY}
      for (const name of ['signed', 'unsigned'])
        digests[name] = (await registry.pushImage(`team/${name}`, '1.0', credentials)).digest
      await signImage(registry, 'team/signed', digests.signed, key, credentials)
      writeFileSync(dockerConfig, dockerConfigJson(registry.host, USER, CANARY))
      const recent = new Date().toISOString()
      const images: Array<[string, Parameters<typeof buildTestImage>[0]]> = [
        ['debian', {layers: [await layerOf(DEBIAN_LIKE)], created: recent}],
        ['distroless', {layers: [await layerOf(DISTROLESS_LIKE)], user: '65532', created: recent}],
      ]
      for (const [name, spec] of images)
        digests[name] = (await pushTestImage(registry, `team/${name}`, '1', buildTestImage(spec), credentials)).digest
      node = await controlPlaneNode(mkdtempSync(path.join(dir, 'node-')))
      kubelet = startKubeletSimulator(node.manifestsDir, 'imgsec-webhook.yaml')
    })
    after(async () => {
      await kubelet?.stop()
      await registry?.stop()
    })

    const enableArgs = () => [
      ...enableOn(node, TEST_BACKEND_IMAGE),
      '--allowed-registries',
      `registry.k8s.io,${registry.host}`,
      ...signatureFlags(),
      '--docker-config',
      dockerConfig,
      '--backend-timeout',
      '30s',
    ]
    const enable = () => runCli(enableArgs())

    it('installs them 0600 for the backend, which reads signatures with them; status, a re-run (also from the same login in a Secret: --docker-config-secret), rotate-certs and add-registry keep them; disable removes them', async () => {
      const result = await enable()
      expect(result.code, `${result.stderr}\n${kubelet.output()}`).to.equal(0)
      expectNoCanary(result)
      const installed = path.join(node.configDir, 'backend', 'docker-config.json')
      expect(result.stdout).to.include(`  wrote ${installed}\n`)
      expect(readFileSync(installed, 'utf8')).to.equal(readFileSync(dockerConfig, 'utf8'))
      expect(statSync(installed).mode & 0o777).to.equal(0o600)
      // Run as root (as on a control-plane node), the file belongs to the backend's user.
      if (process.getuid?.() === 0) expect(statSync(installed).uid).to.equal(65532)
      expect(kubelet.output()).to.not.include(CANARY)

      const decide = reviewerFromKubeconfig(path.join(node.configDir, 'webhook.kubeconfig'))
      // The registry answers 401 to anonymous reads: an admission proves the backend logged in.
      expect(await decide(`${registry.host}/team/signed@${digests.signed}`)).to.include({allowed: true})
      const unsigned = await decide(`${registry.host}/team/unsigned@${digests.unsigned}`)
      expect(unsigned.allowed).to.equal(false)
      expect(unsigned.reason).to.include('image-signature-missing')

      for (const output of [[], ['-o', 'json']]) {
        const status = await runCli(['whitelist', 'status', ...node.flags, ...output])
        expectNoCanary(status)
        if (output.length === 0) expect(status.stdout).to.include(`\nregistry credentials:  ${installed}\n`)
        else expect(JSON.parse(status.stdout).registryCredentials).to.equal(installed)
        expect(status.stderr).to.not.include('is missing')
      }
      // Gone from the node (the running backend read it at start): status says the next start fails, never what it held.
      renameSync(installed, `${installed}.away`)
      try {
        const missing = await runCli(['whitelist', 'status', ...node.flags])
        expect(missing.code, missing.stderr).to.equal(0)
        expect(missing.stderr.split('\n')).to.include(
          `warning: ${installed} is missing: the backend's static pod names it (--docker-config), so the backend exits at its next start; run "whitelist enable" again with --docker-config FILE or --docker-config-secret NAMESPACE/NAME`,
        )
        expectNoCanary(missing)
      } finally {
        renameSync(`${installed}.away`, installed)
      }

      const again = await enable()
      expect(again.code, again.stderr).to.equal(0)
      expect(again.stdout).to.match(/^registry whitelist already enabled: nothing changed\n/)
      expectNoCanary(again)

      // The same login from a docker-registry Secret in the cluster: the same file, so nothing changes.
      const api = await FakeKubeApiServer.start()
      try {
        api.seed({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'ci'}})
        api.seed({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {name: 'regcred', namespace: 'ci'},
          type: 'kubernetes.io/dockerconfigjson',
          data: {'.dockerconfigjson': readFileSync(dockerConfig).toString('base64')},
        })
        const kubeconfig = await api.writeKubeconfig(path.join(node.dir, 'kubeconfig'))
        const fromSecret = await runCli([
          ...enableArgs().filter((arg, i, all) => arg !== '--docker-config' && all[i - 1] !== '--docker-config'),
          '--docker-config-secret',
          'ci/regcred',
          '--kubeconfig',
          kubeconfig,
        ])
        expect(fromSecret.code, fromSecret.stderr).to.equal(0)
        expect(fromSecret.stdout).to.match(/^registry whitelist already enabled: nothing changed\n/)
        expectNoCanary(fromSecret)
      } finally {
        await api.stop()
      }

      const rotated = await runCli(['whitelist', 'rotate-certs', '--config-dir', node.configDir])
      expect(rotated.code, rotated.stderr).to.equal(0)
      const added = await runCli(['whitelist', 'add-registry', 'quay.io', '--config-dir', node.configDir])
      expect(added.code, added.stderr).to.equal(0)
      expect(readFileSync(installed, 'utf8')).to.equal(readFileSync(dockerConfig, 'utf8'))
      expect(statSync(installed).mode & 0o777).to.equal(0o600)
      const pod = parseYaml(readFileSync(path.join(node.manifestsDir, 'imgsec-webhook.yaml'), 'utf8'))
      expect(pod.spec.containers[0].command.slice(-2)).to.deep.equal(['--docker-config', installed])

      // Enabled again without them: the backend no longer has them.
      const without = await runCli([
        ...enableOn(node, TEST_BACKEND_IMAGE),
        '--allowed-registries',
        `registry.k8s.io,${registry.host},quay.io`,
        ...signatureFlags(),
        '--backend-timeout',
        '30s',
      ])
      expect(without.code, `${without.stderr}\n${kubelet.output().slice(-6000)}`).to.equal(0)
      expect(without.stdout).to.include(`  removed ${installed}\n`)
      expect(existsSync(installed)).to.equal(false)
      const podAfter = readFileSync(path.join(node.manifestsDir, 'imgsec-webhook.yaml'), 'utf8')
      expect(podAfter).to.not.include('--docker-config')
      const statusAfter = await runCli(['whitelist', 'status', ...node.flags])
      expect(statusAfter.stdout).to.include('\nregistry credentials:  none\n')

      const disabled = await runCli([
        'whitelist',
        'disable',
        '--config-dir',
        node.configDir,
        '--backup-dir',
        node.backupDir,
      ])
      expect(disabled.code, disabled.stderr).to.equal(0)
      expect(existsSync(installed)).to.equal(false)
    })

    it('image contents too: with forbidShell and requireNonRootImage alone, the backend reads the images behind the login', async () => {
      const policy = path.join(dir, 'contents-policy.yaml')
      writeFileSync(
        policy,
        `allowedRegistries: [registry.k8s.io, "${registry.host}"]\nrequireNonRootImage: true\nforbidShell: true\n`,
      )
      const result = await runCli([
        ...enableOn(node, TEST_BACKEND_IMAGE),
        '--policy',
        policy,
        '--docker-config',
        dockerConfig,
        '--backend-timeout',
        '30s',
      ])
      expect(result.code, `${result.stderr}\n${kubelet.output()}`).to.equal(0)
      expectNoCanary(result)
      const decide = reviewerFromKubeconfig(path.join(node.configDir, 'webhook.kubeconfig'))
      // The registry answers 401 to anonymous reads: a verdict on the contents proves the backend logged in.
      const distroless = await decide(`${registry.host}/team/distroless@${digests.distroless}`)
      expect(distroless, distroless.reason).to.include({allowed: true})
      const debian = await decide(`${registry.host}/team/debian@${digests.debian}`)
      expect(debian.allowed).to.equal(false)
      expect(debian.reason).to.include('image-runs-as-root').and.include('image-has-shell').and.include('/bin/sh')
      expect(kubelet.output()).to.not.include(CANARY)
      const disabled = await runCli([
        'whitelist',
        'disable',
        '--config-dir',
        node.configDir,
        '--backup-dir',
        node.backupDir,
      ])
      expect(disabled.code, disabled.stderr).to.equal(0)
    })
  })
})

import {expect} from 'chai'
import {existsSync, mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {runCli} from '../support/cli.js'
import {controlPlaneNode, type ControlPlaneNode, enableOn, TEST_BACKEND_IMAGE} from '../support/control-plane-node.js'
import {generateKeyPair, signImage, type TestKeyPair} from '../support/cosign.js'
import {startKubeletSimulator} from '../support/kubelet-simulator.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {reviewerFromKubeconfig} from '../support/webhook-process.js'

describe('whitelist enable --require-signature --trusted-key (built CLI, kubelet simulator, real registry)', function () {
  this.timeout(120_000)
  let dir: string
  let key: TestKeyPair
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-wl-sig-'))
    key = await generateKeyPair(dir, 'cosign')
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  const mistakes: Array<[string, () => string[], string]> = [
    [
      '--mode vap says plainly that CEL cannot verify signatures',
      () => [
        '--mode',
        'vap',
        '--allowed-registries',
        'docker.io',
        '--require-signature',
        '--trusted-key',
        key.publicKeyFile,
        '--dry-run=client',
      ],
      'error: --require-signature cannot work with --mode vap: a ValidatingAdmissionPolicy is CEL, which cannot fetch signatures from a registry nor verify them; use the ImagePolicyWebhook mode (without --mode vap), whose backend verifies them\n',
    ],
    [
      '--require-signature without a key',
      () => ['--allowed-registries', 'docker.io', '--require-signature', '--dry-run=client'],
      'error: --require-signature needs --trusted-key FILE (the public key, e.g. cosign.pub; repeatable)\n',
    ],
    [
      '--trusted-key alone',
      () => ['--allowed-registries', 'docker.io', '--trusted-key', key.publicKeyFile, '--dry-run=client'],
      'error: --trusted-key goes with --require-signature\n',
    ],
    [
      '--docker-config with an external backend',
      () => [
        '--backend-placement',
        'external',
        '--webhook-url',
        'https://x.example/image_policy',
        '--webhook-ca',
        key.publicKeyFile,
        '--allowed-registries',
        'docker.io',
        '--require-signature',
        '--trusted-key',
        key.publicKeyFile,
        '--docker-config',
        key.publicKeyFile,
      ],
      'error: --docker-config applies only to --backend-placement static or deployment (an external backend runs its own image, with its own registry credentials)\n',
    ],
    [
      '--docker-config-secret with an external backend',
      () => [
        '--backend-placement',
        'external',
        '--webhook-url',
        'https://x.example/image_policy',
        '--webhook-ca',
        key.publicKeyFile,
        '--allowed-registries',
        'docker.io',
        '--require-signature',
        '--trusted-key',
        key.publicKeyFile,
        '--docker-config-secret',
        'ci/regcred',
      ],
      'error: --docker-config-secret applies only to --backend-placement static or deployment (an external backend runs its own image, with its own registry credentials)\n',
    ],
    [
      '--docker-config without requireSignature',
      () => ['--allowed-registries', 'docker.io', '--docker-config', key.publicKeyFile, '--dry-run=client'],
      'error: --docker-config gives the backend registry credentials to read signatures and image contents: it goes with --require-signature --trusted-key KEY, or a --policy file with requireSignature, requireNonRootImage, forbidShell or maxImageAgeDays\n',
    ],
    [
      'no allowlist to cover',
      () => [
        '--allow-any-registry',
        '--require-signature',
        '--trusted-key',
        key.publicKeyFile,
        '--backend-image',
        TEST_BACKEND_IMAGE,
        '--dry-run=client',
      ],
      'error: --require-signature covers the allowed registries: name them (--allowed-registries or the policy file), or put requireSignature with its own repositories in a --policy file\n',
    ],
  ]
  for (const [label, args, message] of mistakes) {
    it(`${label}: one error line, nothing written`, async () => {
      const node = await controlPlaneNode(mkdtempSync(path.join(dir, 'node-')))
      const result = await runCli(['whitelist', 'enable', ...node.flags, ...args()])
      expect(result.stderr).to.equal(message)
      expect(result.code).to.equal(1)
      expect(existsSync(node.configDir)).to.equal(false)
    })
  }

  it('--mode vap refuses a policy file with requireSignature, saying why', async () => {
    const policy = path.join(dir, 'vap-policy.yaml')
    const {writeFileSync} = await import('node:fs')
    writeFileSync(
      policy,
      `allowedRegistries: [docker.io]\nrequireSignature:\n- repositories: [docker.io]\n  keys: [cosign.pub]\n`,
    )
    const result = await runCli([
      'whitelist',
      'enable',
      '--mode',
      'vap',
      '--policy',
      policy,
      '--dry-run=client',
      '-o',
      'yaml',
    ])
    expect(result.stderr).to.match(
      /^error: the policy's requireSignature cannot be enforced by --mode vap: a ValidatingAdmissionPolicy is CEL, which cannot fetch signatures/,
    )
    expect(result.code).to.equal(1)
  })

  it('--dry-run=client shows the policy naming the key copied into the backend directory, and the public key', async () => {
    const node = await controlPlaneNode(mkdtempSync(path.join(dir, 'node-')))
    const result = await runCli([
      'whitelist',
      'enable',
      ...node.flags,
      '--backend-image',
      TEST_BACKEND_IMAGE,
      '--allowed-registries',
      'registry.example.com',
      '--require-signature',
      '--trusted-key',
      key.publicKeyFile,
      '--dry-run=client',
    ])
    expect(result.code, result.stderr).to.equal(0)
    const {parseAllDocuments} = await import('yaml')
    const policyDoc = parseAllDocuments(result.stdout)
      .find((doc) => doc.toJS()?.kind === 'ImagePolicy')!
      .toJS()
    expect(policyDoc.requireSignature).to.have.length(1)
    expect(policyDoc.requireSignature[0].repositories).to.deep.equal(['registry.example.com'])
    const copied = policyDoc.requireSignature[0].keys[0] as string
    expect(path.dirname(copied)).to.equal(path.join(node.configDir, 'backend'))
    expect(result.stdout).to.include(`# ${copied}\n${readFileSync(key.publicKeyFile, 'utf8').trim()}`)
    expect(result.stdout).to.not.include('PRIVATE KEY')
    expect(existsSync(node.configDir)).to.equal(false)
  })

  describe('enabled on a simulated node', () => {
    let node: ControlPlaneNode
    let kubelet: ReturnType<typeof startKubeletSimulator>
    let registry: RunningRegistry
    const digests: Record<string, string> = {}
    before(async function () {
      requireRegistry(this, 'the whitelist-signatures e2e tests')
      registry = await startRegistry()
      for (const name of ['signed', 'unsigned'])
        digests[name] = (await registry.pushImage(`team/${name}`, '1.0')).digest
      await signImage(registry, 'team/signed', digests.signed, key)
      node = await controlPlaneNode(mkdtempSync(path.join(dir, 'node-')))
      kubelet = startKubeletSimulator(node.manifestsDir, 'imgsec-webhook.yaml')
    })
    after(async () => {
      await kubelet?.stop()
      await registry?.stop()
    })

    it('copies the key (0600), the backend admits the signed image and refuses the others; add-registry extends requireSignature (or not: --no-require-signature), remove-registry takes it out; disable removes the key', async () => {
      const result = await runCli([
        ...enableOn(node, TEST_BACKEND_IMAGE),
        '--allowed-registries',
        `registry.k8s.io,${registry.host}`,
        '--require-signature',
        '--trusted-key',
        key.publicKeyFile,
        '--backend-timeout',
        '30s',
      ])
      expect(result.code, `${result.stderr}\n${kubelet.output()}`).to.equal(0)
      const policy = parseYaml(readFileSync(path.join(node.configDir, 'backend', 'policy.yaml'), 'utf8'))
      const copied = policy.requireSignature[0].keys[0] as string
      expect(readFileSync(copied, 'utf8')).to.equal(readFileSync(key.publicKeyFile, 'utf8').replace(/\r?\n?$/, '\n'))
      expect(statSync(copied).mode & 0o777).to.equal(0o600)

      const decide = reviewerFromKubeconfig(path.join(node.configDir, 'webhook.kubeconfig'))
      expect(await decide(`${registry.host}/team/signed@${digests.signed}`)).to.include({allowed: true})
      const unsigned = await decide(`${registry.host}/team/unsigned@${digests.unsigned}`)
      expect(unsigned.allowed).to.equal(false)
      expect(unsigned.reason).to.include('image-signature-missing')
      const tagOnly = await decide(`${registry.host}/team/signed:1.0`)
      expect(tagOnly.reason).to.include('pin by digest to verify its signature')

      // add-registry: every registry requires signatures, so the new one does too, with the same keys.
      const readPolicy = () => parseYaml(readFileSync(path.join(node.configDir, 'backend', 'policy.yaml'), 'utf8'))
      const added = await runCli(['whitelist', 'add-registry', 'quay.io', '--config-dir', node.configDir])
      expect(added.code, added.stderr).to.equal(0)
      expect(added.stdout).to.equal(
        `allowed registries: registry.k8s.io, ${registry.host}, quay.io\nquay.io: images must be signed by the same keys as the other registries (requireSignature); --no-require-signature allows them unsigned\nthe backend reloaded the policy\n`,
      )
      expect(readPolicy().requireSignature).to.deep.equal([
        {repositories: ['registry.k8s.io', registry.host, 'quay.io'], keys: policy.requireSignature[0].keys},
      ])
      expect((await decide('quay.io/team/app:1.0')).reason).to.include('pin by digest to verify its signature')
      // --no-require-signature: allowed, unsigned.
      const unsignedAdd = await runCli([
        'whitelist',
        'add-registry',
        'ghcr.io',
        '--no-require-signature',
        '--config-dir',
        node.configDir,
      ])
      expect(unsignedAdd.stdout, unsignedAdd.stderr).to.equal(
        `allowed registries: registry.k8s.io, ${registry.host}, quay.io, ghcr.io\nthe backend reloaded the policy\n`,
      )
      expect(readPolicy().requireSignature[0].repositories).to.not.include('ghcr.io')
      expect(await decide('ghcr.io/team/app:1.0')).to.include({allowed: true})
      // remove-registry: it leaves requireSignature too.
      const removed = await runCli(['whitelist', 'remove-registry', 'quay.io', '--config-dir', node.configDir])
      expect(removed.stdout, removed.stderr).to.equal(
        `allowed registries: registry.k8s.io, ${registry.host}, ghcr.io\nquay.io leaves requireSignature too\nthe backend reloaded the policy\n`,
      )
      expect(readPolicy().requireSignature).to.deep.equal(policy.requireSignature)

      const disabled = await runCli([
        'whitelist',
        'disable',
        '--config-dir',
        node.configDir,
        '--backup-dir',
        node.backupDir,
      ])
      expect(disabled.code, disabled.stderr).to.equal(0)
      expect(existsSync(copied)).to.equal(false)
    })
  })
})

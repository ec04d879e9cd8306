import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {runCli} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {generateKeyPair, signImage} from '../support/cosign.js'
import {chainPem, createAuthority, issueLeaf, signWithCertificate, writeTrustedRoot} from '../support/keyless.js'
import {dockerConfigJson, requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'

const USER = 'auditor'
const PASSWORD = 'Audit-Sig-Passw0rd-canary'

interface Finding {
  check: string
  container: string
  message: string
  severity: string
}

describe('audit images --verify-signatures (built CLI, real registry, cosign)', function () {
  this.timeout(120_000)
  let registry: RunningRegistry
  let dir: string
  let dockerConfig: string
  let policy: string
  let manifest: string
  const digests: Record<string, string> = {}

  before(async function () {
    requireRegistry(this, '--verify-signatures e2e')
    registry = await startRegistry({users: {[USER]: PASSWORD}})
    const credentials = {username: USER, password: PASSWORD}
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-audit-sig-'))
    const trusted = await generateKeyPair(dir, 'cosign')
    const other = await generateKeyPair(dir, 'other')
    for (const name of ['signed', 'unsigned', 'stranger'])
      digests[name] = (await registry.pushImage(`team/${name}`, '1.0', credentials)).digest
    digests.outside = (await registry.pushImage('elsewhere/app', '1.0', credentials)).digest
    await signImage(registry, 'team/signed', digests.signed, trusted, credentials)
    await signImage(registry, 'team/stranger', digests.stranger, other, credentials)
    dockerConfig = path.join(dir, 'config.json')
    writeFileSync(dockerConfig, dockerConfigJson(registry.host, USER, PASSWORD))
    policy = path.join(dir, 'policy.yaml')
    writeFileSync(policy, `requireSignature:\n- repositories: ["${registry.host}/team"]\n  keys: [cosign.pub]\n`)
    manifest = path.join(dir, 'deploy.yaml')
    writeFileSync(
      manifest,
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: {name: web, namespace: shop}',
        'spec:',
        '  template:',
        '    spec:',
        '      containers:',
        `      - {name: signed, image: "${registry.host}/team/signed:1.0"}`,
        `      - {name: pinned, image: "${registry.host}/team/signed@${digests.signed}"}`,
        `      - {name: unsigned, image: "${registry.host}/team/unsigned@${digests.unsigned}"}`,
        `      - {name: stranger, image: "${registry.host}/team/stranger@${digests.stranger}"}`,
        `      - {name: outside, image: "${registry.host}/elsewhere/app@${digests.outside}"}`,
        '',
      ].join('\n'),
    )
  })
  after(async () => {
    await registry?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  const signatureFindings = (stdout: string) =>
    (JSON.parse(stdout) as {findings: Finding[]}).findings
      .filter((finding) => finding.check.startsWith('image-signature-'))
      .map((finding) => [finding.check, finding.severity, finding.container, finding.message])

  it('reports the unsigned and the wrongly signed images of covered repositories, nothing else', async () => {
    const result = await runCli([
      'audit',
      'images',
      '-f',
      manifest,
      '--policy',
      policy,
      '--verify-signatures',
      '--docker-config',
      dockerConfig,
      '-o',
      'json',
    ])
    expect(result.stderr).to.equal('')
    const findings = signatureFindings(result.stdout)
    expect(findings[0][3]).to.equal(
      `${registry.host}/team/unsigned@${digests.unsigned} has no signature (requireSignature)`,
    )
    expect(findings.map((f) => f.slice(0, 3))).to.deep.equal([
      ['image-signature-missing', 'high', 'unsigned'],
      ['image-signature-invalid', 'critical', 'stranger'],
    ])
    expect(findings[1][3]).to.match(
      new RegExp(
        `^${registry.host}/team/stranger@${digests.stranger}: signature sha256:[a-f0-9]{12} is not by a trusted key \\(tried ${path.join(dir, 'cosign.pub')}\\)$`,
      ),
    )
    expect(result.code).to.equal(3)
    expect(result.stdout + result.stderr).to.not.include(PASSWORD)
  })

  it('keyless identities through the policy: the image signed by another identity is invalid, saying which', async function () {
    const credentials = {username: USER, password: PASSWORD}
    const signer = await generateKeyPair(dir, 'keyless-signer')
    const ca = await createAuthority('audit root')
    writeTrustedRoot(path.join(dir, 'trusted_root.json'), [ca])
    const chainFile = path.join(dir, 'chain.pem')
    writeFileSync(chainFile, chainPem(ca))
    const images: string[] = []
    for (const name of ['release', 'intruder']) {
      const {digest} = await registry.pushImage(`ci/${name}`, '1.0', credentials)
      const certificateFile = path.join(dir, `${name}.pem`)
      writeFileSync(
        certificateFile,
        await issueLeaf(ca, signer.publicKeyFile, {san: `email:${name}@example.com`, issuer: 'https://ci.example'}),
      )
      if (
        !(await signWithCertificate(registry, `ci/${name}`, digest, signer, {certificateFile, chainFile, credentials}))
      )
        this.skip()
      images.push(`${registry.host}/ci/${name}@${digest}`)
    }
    const keylessPolicy = path.join(dir, 'keyless-policy.yaml')
    writeFileSync(
      keylessPolicy,
      `requireSignature:\n- repositories: ["${registry.host}/ci"]\n  keyless:\n    trustedRoot: trusted_root.json\n    identities: [{issuer: https://ci.example, subject: release@example.com}]\n`,
    )
    const keylessManifest = path.join(dir, 'ci.yaml')
    writeFileSync(
      keylessManifest,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: ci, namespace: shop}\nspec:\n  containers:\n  - {name: release, image: "${images[0]}"}\n  - {name: intruder, image: "${images[1]}"}\n`,
    )
    const result = await runCli([
      'audit',
      'images',
      '-f',
      keylessManifest,
      '--policy',
      keylessPolicy,
      '--verify-signatures',
      '--docker-config',
      dockerConfig,
      '-o',
      'json',
    ])
    expect(result.stderr).to.equal('')
    const findings = signatureFindings(result.stdout)
    expect(findings.map((f) => f.slice(0, 3))).to.deep.equal([['image-signature-invalid', 'critical', 'intruder']])
    expect(findings[0][3]).to.match(
      /: signature sha256:[a-f0-9]{12} has a certificate for intruder@example\.com \(issuer https:\/\/ci\.example\), which matches none of: subject release@example\.com, issuer https:\/\/ci\.example$/,
    )
  })

  it('without credentials each image is a warning, the audit still runs', async () => {
    const result = await runCli([
      'audit',
      'images',
      '-f',
      manifest,
      '--policy',
      policy,
      '--verify-signatures',
      '-o',
      'json',
      '--fail-on',
      'none',
    ])
    expect(result.code).to.equal(0)
    expect(signatureFindings(result.stdout)).to.deep.equal([])
    expect(result.stderr).to.include(
      `warning: cannot verify the signature of ${registry.host}/team/unsigned@${digests.unsigned}: cannot read ${registry.host}/team/unsigned: the registry refused anonymous access (HTTP 401); give credentials with --docker-config`,
    )
    expect(result.stderr).to.include(
      `warning: cannot verify the signature of ${registry.host}/team/signed:1.0: its tag could not be resolved to a digest`,
    )
  })

  it('--ignore-check of both signature checks skips the verification', async () => {
    const result = await runCli([
      'audit',
      'images',
      '-f',
      manifest,
      '--policy',
      policy,
      '--verify-signatures',
      '--ignore-check',
      'image-signature-missing,image-signature-invalid',
      '-o',
      'json',
      '--fail-on',
      'none',
    ])
    expect(result.code).to.equal(0)
    expect(result.stderr).to.not.include('cannot verify the signature')
  })

  it('--verify-signatures without requireSignature in a policy file is a usage error', async () => {
    const result = await runCli(['audit', 'images', '-f', manifest, '--verify-signatures'])
    expect(result.stderr).to.equal(
      'error: --verify-signatures needs a --policy file with requireSignature (which repositories, which keys: README, "audit images")\n',
    )
    expect(result.code).to.equal(1)
  })

  it('cluster: verifies the digest each pod runs, with its pull secret', async () => {
    const api = await FakeKubeApiServer.start({namespaces: ['shop']})
    try {
      const kubeconfig = await api.writeKubeconfig(path.join(dir, 'kubeconfig'), {namespace: 'shop'})
      const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64')
      api.seed({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/dockerconfigjson',
        metadata: {name: 'regcred', namespace: 'shop'},
        data: {'.dockerconfigjson': Buffer.from(JSON.stringify({auths: {[registry.host]: {auth}}})).toString('base64')},
      })
      // The tag says "1.0" but the pod runs the digest in imageID: that digest is what is verified.
      const pod = (name: string, image: string, running: string) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {name, namespace: 'shop'},
        spec: {containers: [{name: 'main', image}], imagePullSecrets: [{name: 'regcred'}]},
        status: {
          containerStatuses: [
            {name: 'main', image, imageID: `${image.split(':1.0')[0]}@${running}`, ready: true, restartCount: 0},
          ],
        },
      })
      api.seed(pod('signed', `${registry.host}/team/signed:1.0`, digests.signed))
      api.seed(pod('swapped', `${registry.host}/team/signed:1.0`, digests.unsigned))
      const result = await runCli(['audit', 'images', '--policy', policy, '--verify-signatures', '-o', 'json'], {
        env: {KUBECONFIG: kubeconfig},
      })
      expect(result.stderr).to.equal('')
      expect(signatureFindings(result.stdout)).to.deep.equal([
        [
          'image-signature-missing',
          'high',
          'main',
          `${registry.host}/team/signed@${digests.unsigned} has no signature (requireSignature)`,
        ],
      ])
      expect(result.code).to.equal(3)
    } finally {
      await api.stop()
    }
  })

  it('a policy naming a missing key file is an error with its line', async () => {
    const broken = path.join(dir, 'broken.yaml')
    writeFileSync(broken, `requireSignature:\n- repositories: ["${registry.host}/team"]\n  keys: [missing.pub]\n`)
    const result = await runCli(['audit', 'images', '-f', manifest, '--policy', broken, '--verify-signatures'])
    expect(result.stderr).to.include(`${broken}:3: requireSignature[0].keys[0]: key "${path.join(dir, 'missing.pub')}"`)
    expect(result.code).to.equal(1)
  })
})

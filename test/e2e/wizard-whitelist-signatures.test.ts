import {expect} from 'chai'
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parseAllDocuments} from 'yaml'

import {planWizard, type WizardContext, writeWizardFiles} from '../../src/cli/wizard.js'
import {runCli} from '../support/cli.js'
import {controlPlaneNode, KUBEADM_MANIFEST, TEST_BACKEND_IMAGE} from '../support/control-plane-node.js'
import {generateKeyPair, type TestKeyPair} from '../support/cosign.js'
import {scriptedPrompter} from '../support/scripted-prompter.js'
import {dockerConfigJson} from '../support/registry.js'

// The wizard's answers about signatures become exactly what the built `whitelist enable` takes: its
// argv (plus the node's directories and --dry-run=client, which the wizard never adds) is run as is.
describe('wizard whitelist with signatures: the argv it builds is accepted by the built whitelist enable', function () {
  this.timeout(60_000)
  const CANARY = 'CanaryRobotPw-wizard-e2e-41'
  let dir: string
  let key: TestKeyPair
  let dockerConfig: string
  let context: WizardContext
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-wizard-sig-e2e-'))
    key = await generateKeyPair(dir, 'cosign')
    dockerConfig = path.join(dir, 'config.json')
    writeFileSync(dockerConfig, dockerConfigJson('registry.example.com', 'robot', CANARY), {mode: 0o600})
    mkdirSync(path.join(dir, 'files'))
    context = {
      namespace: 'default',
      controlPlane: {manifest: KUBEADM_MANIFEST, backups: () => []},
      fileDir: path.join(dir, 'files'),
    }
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  async function dryRun(argv: string[]) {
    const node = await controlPlaneNode(mkdtempSync(path.join(dir, 'node-')))
    const [, , ...args] = argv
    const result = await runCli([
      'whitelist',
      'enable',
      ...args,
      ...node.flags,
      '--backend-image',
      TEST_BACKEND_IMAGE,
      '--dry-run=client',
    ])
    expect(result.code, result.stderr).to.equal(0)
    expect(existsSync(node.configDir)).to.equal(false)
    const policy = parseAllDocuments(result.stdout)
      .map((doc) => doc.toJS())
      .find((doc) => doc?.kind === 'ImagePolicy')
    return {result, policy, node}
  }

  it('some repositories, with a docker config: the policy file it writes and --docker-config', async () => {
    const plan = await planWizard(
      scriptedPrompter([
        'whitelist-enable',
        'static',
        'docker.io,registry.example.com',
        true,
        'registry.example.com/team',
        key.publicKeyFile,
        dockerConfig,
        true,
      ]),
      context,
    )
    writeWizardFiles(plan.files!)
    const {result, policy, node} = await dryRun(plan.argv)
    expect(policy.allowedRegistries).to.deep.equal(['docker.io', 'registry.example.com'])
    expect(policy.requireSignature).to.have.length(1)
    expect(policy.requireSignature[0].repositories).to.deep.equal(['registry.example.com/team'])
    expect(path.dirname(policy.requireSignature[0].keys[0])).to.equal(path.join(node.configDir, 'backend'))
    expect(result.stdout).to.contain(`<registry credentials from --docker-config "${dockerConfig}": not printed>`)
    expect(result.stdout + result.stderr).to.not.contain(CANARY)
  })

  it('the allowed registries themselves: --require-signature --trusted-key', async () => {
    const plan = await planWizard(
      scriptedPrompter([
        'whitelist-enable',
        'static',
        'registry.example.com',
        true,
        'registry.example.com',
        key.publicKeyFile,
        '',
        true,
      ]),
      context,
    )
    expect(plan.argv).to.include('--require-signature')
    const {policy} = await dryRun(plan.argv)
    expect(policy.requireSignature).to.have.length(1)
    expect(policy.requireSignature[0].repositories).to.deep.equal(['registry.example.com'])
  })
})

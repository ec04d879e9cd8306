import {expect} from 'chai'
import {generateKeyPairSync} from 'node:crypto'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {confirmPlan, planWizard, type WizardContext, writeWizardFiles} from '../../src/cli/wizard.js'
import {dockerConfigProblem, trustedKeyProblem} from '../../src/cli/wizard-signatures.js'
import {loadPolicyFile} from '../../src/lib/policy/policy-file.js'
import {ROOT} from '../support/cli.js'
import {scriptedPrompter} from '../support/scripted-prompter.js'
import {dockerConfigJson} from '../support/registry.js'

const QUESTION = 'Require cosign signatures for images from some repositories?'
const CANARY = 'CanarySecret-wizard-signatures-77'

describe('wizard: the whitelist flow asks about image signatures', () => {
  let dir: string
  let context: WizardContext
  let publicKey: string
  let dockerConfig: string
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-wizard-sig-'))
    publicKey = path.join(dir, 'cosign.pub')
    const pair = generateKeyPairSync('ec', {namedCurve: 'prime256v1'})
    writeFileSync(publicKey, pair.publicKey.export({type: 'spki', format: 'pem'}))
    dockerConfig = path.join(dir, 'config.json')
    writeFileSync(dockerConfig, dockerConfigJson('registry.example.com', 'robot', CANARY), {mode: 0o600})
    mkdirSync(path.join(dir, 'files'))
    context = {
      namespace: 'default',
      controlPlane: {
        manifest: path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml'),
        backups: () => [],
      },
      fileDir: path.join(dir, 'files'),
    }
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('no (the default answer): nothing about signatures is passed, and the summary says so', async () => {
    const prompt = scriptedPrompter(['whitelist-enable', 'static', 'docker.io', false, true])
    const plan = await planWizard(prompt, context)
    expect(prompt.asked[3]).to.equal(QUESTION)
    expect(plan.argv).to.deep.equal(['whitelist', 'enable', '--allowed-registries', 'docker.io'])
    expect(plan.summary).to.include('image signatures: not required')
    expect(plan.files).to.deep.equal([])
  })

  it('the allowed registries themselves: --require-signature --trusted-key (absolute), no file', async () => {
    const relative = path.relative(process.cwd(), publicKey)
    const prompt = scriptedPrompter([
      'whitelist-enable',
      'static',
      'registry.example.com,docker.io',
      true,
      'docker.io, registry.example.com',
      relative,
      '',
      true,
    ])
    const plan = await planWizard(prompt, context)
    expect(prompt.asked.slice(3, 7)).to.deep.equal([
      QUESTION,
      'Repositories whose images must be signed (comma-separated registry patterns)',
      'Trusted public key file (cosign.pub)',
      'Docker config file with the credentials to read signatures from private registries (empty for none)',
    ])
    expect(plan.argv).to.deep.equal([
      'whitelist',
      'enable',
      '--allowed-registries',
      'registry.example.com,docker.io',
      '--require-signature',
      '--trusted-key',
      publicKey,
    ])
    expect(plan.commandLine).to.equal(
      `kubectl imgsec whitelist enable --allowed-registries registry.example.com,docker.io --require-signature --trusted-key ${publicKey}`,
    )
    expect(plan.summary).to.include(`image signatures: required for every allowed registry, by the key ${publicKey}`)
    expect(plan.files).to.deep.equal([])
  })

  it('some repositories: a policy file with requireSignature, named in the summary and the command, written 0600 only when asked', async () => {
    const prompt = scriptedPrompter([
      'whitelist-enable',
      'static',
      'docker.io,registry.example.com',
      true,
      'registry.example.com/team',
      publicKey,
      dockerConfig,
      false,
    ])
    const plan = await planWizard(prompt, context)
    expect(plan.files).to.have.length(1)
    const policy = plan.files![0].path
    expect(path.dirname(path.dirname(policy))).to.equal(context.fileDir)
    expect(plan.argv).to.deep.equal([
      'whitelist',
      'enable',
      '--allowed-registries',
      'docker.io,registry.example.com',
      '--policy',
      policy,
      '--docker-config',
      dockerConfig,
      '--default-allow',
    ])
    expect(plan.commandLine).to.equal(
      `kubectl imgsec whitelist enable --allowed-registries docker.io,registry.example.com --policy ${policy} --docker-config ${dockerConfig} --default-allow`,
    )
    expect(plan.summary).to.include.members([
      `image signatures: required for registry.example.com/team, by the key ${publicKey}`,
      `policy file ${policy} (requireSignature; written 0600 when you confirm)`,
      `registry credentials for the backend: ${dockerConfig} (copied 0600, never printed)`,
    ])
    // Planning writes nothing: "No" at "Run it?" leaves no file behind.
    expect(() => statSync(path.dirname(policy))).to.throw(/ENOENT/)
    expect(JSON.stringify(plan)).to.not.contain(CANARY)

    writeWizardFiles(plan.files!)
    expect(statSync(policy).mode & 0o777).to.equal(0o600)
    expect(statSync(path.dirname(policy)).mode & 0o777).to.equal(0o700)
    // The real policy reader takes it: the key read, the repositories as answered.
    const read = loadPolicyFile(policy)
    expect(read.requireSignature).to.have.length(1)
    expect(read.requireSignature![0].repositories).to.deep.equal(['registry.example.com/team'])
    expect(read.requireSignature![0].keys.map((key) => key.name)).to.deep.equal([publicKey])
    expect(read.allowedRegistries, 'the allowlist comes from --allowed-registries').to.equal(undefined)
    expect(readFileSync(policy, 'utf8')).to.not.contain('PUBLIC KEY')
    // A file never replaces one already there (a name planted in a shared temp directory).
    expect(() => writeWizardFiles(plan.files!)).to.throw(
      `cannot write ${policy}: it already exists; nothing was changed`,
    )
  })

  it('"Run it?": the summary and command line name the policy file; no writes nothing, yes writes it', async () => {
    const answers = ['whitelist-enable', 'static', 'docker.io,quay.io', true, 'quay.io/team', publicKey, '', true]
    for (const run of [false, true]) {
      const plan = await planWizard(scriptedPrompter([...answers]), context)
      const policy = plan.files![0].path
      let shown = ''
      const prompt = scriptedPrompter([run])
      expect(await confirmPlan(prompt, plan, {write: (text: string) => (shown += text)})).to.equal(run)
      expect(prompt.asked).to.deep.equal(['Run it?'])
      expect(shown).to.contain(`  - policy file ${policy} (requireSignature; written 0600 when you confirm)\n`)
      expect(shown).to.contain(
        `The same as:\n  kubectl imgsec whitelist enable --allowed-registries docker.io,quay.io --policy ${policy}\n`,
      )
      if (run) {
        expect(statSync(policy).mode & 0o777).to.equal(0o600)
        expect(loadPolicyFile(policy).requireSignature![0].repositories).to.deep.equal(['quay.io/team'])
      } else {
        expect(shown).to.match(/Nothing was changed\.\n$/)
        expect(() => statSync(path.dirname(policy))).to.throw(/ENOENT/)
      }
    }
  })

  it('a repository the policy would refuse is refused as the policy refuses it', async () => {
    const error = await planWizard(
      scriptedPrompter(['whitelist-enable', 'static', 'docker.io', true, 'docker.io, https://bad']),
      context,
    ).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((error as Error).message).to.contain('"https://bad": expected a registry host')
  })

  it('--mode vap: signatures are not asked about, and the summary says why', async () => {
    const prompt = scriptedPrompter(['whitelist-enable', 'vap', 'docker.io'])
    const plan = await planWizard(prompt, context)
    expect(prompt.asked).to.not.include(QUESTION)
    expect(plan.summary).to.include(
      'image signatures: not checked (a ValidatingAdmissionPolicy cannot verify them; the webhook can)',
    )
  })

  describe('the key and docker config are checked as whitelist enable checks them: one line, never the content (canary)', () => {
    const write = (name: string, text: string) => {
      const file = path.join(dir, name)
      writeFileSync(file, text)
      return file
    }

    it('trusted key', () => {
      expect(trustedKeyProblem(publicKey)).to.equal(true)
      const cases: Array<[string, string | RegExp]> = [
        ['', 'the public key file is required (cosign.pub, from cosign generate-key-pair)'],
        [
          path.join(dir, 'missing.pub'),
          `the key file "${path.join(dir, 'missing.pub')}" cannot be read: no such file or directory`,
        ],
        [
          write(
            'private.key',
            `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${CANARY}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`,
          ),
          /^the key file ".*private\.key" is a private key; give the public key \(cosign\.pub/,
        ],
        [write('notes.txt', `password=${CANARY}\n`), /^the key file ".*notes\.txt" is not a PEM public key/],
        [
          write('broken.pub', `-----BEGIN PUBLIC KEY-----\n${CANARY}\n-----END PUBLIC KEY-----\n`),
          /^the key file ".*broken\.pub" is not a readable PEM public key$/,
        ],
      ]
      for (const [file, expected] of cases) {
        const problem = trustedKeyProblem(file)
        expect(problem).to.be.a('string')
        if (typeof expected === 'string') expect(problem).to.equal(expected)
        else expect(problem).to.match(expected)
        expect(problem).to.not.contain(CANARY)
        expect(problem).to.not.contain('\n')
      }
    })

    it('docker config', () => {
      expect(dockerConfigProblem('')).to.equal(true)
      expect(dockerConfigProblem(dockerConfig)).to.equal(true)
      const cases: Array<[string, RegExp]> = [
        [
          path.join(dir, 'missing.json'),
          /^the docker config ".*missing\.json" cannot be read: no such file or directory$/,
        ],
        [
          write('bad.json', `{"auths": {"r.example.com": {"auth": "${CANARY}"`),
          /^the docker config ".*bad\.json" is not valid JSON/,
        ],
        [
          write('helper.json', JSON.stringify({auths: {'r.example.com': {}}, credsStore: 'desktop', x: CANARY})),
          /^the docker config ".*helper\.json" holds no username\/password for any registry/,
        ],
      ]
      for (const [file, expected] of cases) {
        const problem = dockerConfigProblem(file)
        expect(problem).to.match(expected)
        expect(problem).to.not.contain(CANARY)
        expect(problem).to.not.contain('\n')
      }
    })
  })
})

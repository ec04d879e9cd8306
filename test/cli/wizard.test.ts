import {expect} from 'chai'

import path from 'node:path'

import {planWizard, type WizardContext} from '../../src/cli/wizard.js'
import {ROOT} from '../support/cli.js'
import {scriptedPrompter} from '../support/scripted-prompter.js'

describe('wizard flows (scripted prompts)', () => {
  const manifest = path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml')
  const backups = [
    {
      backup: '/b/kube-apiserver.yaml.1',
      time: '2026-11-30T01:00:00Z',
      command: 'kubectl imgsec whitelist enable',
      byRestore: false,
    },
    {
      backup: '/b/kube-apiserver.yaml.2',
      time: '2026-11-30T02:00:00Z',
      command: 'kubectl imgsec patch-apiserver --restore',
      byRestore: true,
    },
  ]
  const context: WizardContext = {
    namespace: 'team-a',
    namespaces: ['default', 'team-a'],
    serviceAccounts: async () => ['default', 'builder'],
    controlPlane: {manifest, backups: () => backups},
  }

  it('create a pull secret: asks, builds the subcommand, never shows the password', async () => {
    const prompt = scriptedPrompter([
      'create-regcred',
      'private-reg-cred',
      'myprivateregistry.com:5000',
      'dock_user',
      'dock_user@myprivateregistry.com',
      'team-a',
      'builder',
      true,
      'S3cret-Wizard-Pw',
    ])
    const plan = await planWizard(prompt, context)
    expect(plan.argv).to.deep.equal([
      'create-regcred',
      'private-reg-cred',
      '--docker-server',
      'myprivateregistry.com:5000',
      '--docker-username',
      'dock_user',
      '--docker-password',
      'S3cret-Wizard-Pw',
      '-n',
      'team-a',
      '--docker-email',
      'dock_user@myprivateregistry.com',
      '--attach-to-sa',
      'builder',
    ])
    expect(plan.commandLine).to.equal(
      'kubectl imgsec create-regcred private-reg-cred --docker-server myprivateregistry.com:5000 --docker-username dock_user --password-stdin -n team-a --docker-email dock_user@myprivateregistry.com --attach-to-sa builder',
    )
    expect(plan.commandLine + plan.summary.join('\n')).to.not.contain('S3cret-Wizard-Pw')
    expect(prompt.asked).to.include('Password (not shown)')
  })

  it('validates as you type: a bad secret name is refused', async () => {
    const prompt = scriptedPrompter(['create-regcred', 'Bad_Name'])
    const error = await planWizard(prompt, context).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((error as Error).message).to.match(/validation refused "Bad_Name": invalid secret name/)
  })

  it('offline (no cluster): namespaces are typed, not chosen', async () => {
    const prompt = scriptedPrompter([
      'create-regcred',
      'regcred',
      'https://index.docker.io/v1/',
      'me',
      '',
      'default',
      '',
      false,
      'pw-pw-pw',
    ])
    const plan = await planWizard(prompt, {namespace: 'default'})
    expect(plan.argv.slice(-3)).to.deep.equal(['-n', 'default', '--no-verify'])
  })

  it('enforce a whitelist (static backend, defaultAllow false)', async () => {
    const plan = await planWizard(
      scriptedPrompter(['whitelist-enable', 'static', 'docker.io, registry.k8s.io', false, true]),
      context,
    )
    expect(plan.commandLine).to.equal('kubectl imgsec whitelist enable --allowed-registries docker.io,registry.k8s.io')
    // The summary says what a backend outage does, as kube-apiserver really behaves (test/k8s).
    expect(plan.summary).to.include(
      'if the backend stops answering: every pod creation and update in every namespace is refused, kube-system included ("whitelist status" tells)',
    )
    const open = await planWizard(scriptedPrompter(['whitelist-enable', 'static', 'docker.io', false, false]), context)
    expect(open.summary).to.include('if the backend stops answering: pods are admitted without an image check')
  })

  it('enforce a whitelist with a ValidatingAdmissionPolicy; a bad registry is refused', async () => {
    const plan = await planWizard(scriptedPrompter(['whitelist-enable', 'vap', 'docker.io']), context)
    expect(plan.argv).to.deep.equal(['whitelist', 'enable', '--allowed-registries', 'docker.io', '--mode', 'vap'])
    const error = await planWizard(scriptedPrompter(['whitelist-enable', 'vap', 'https://bad']), context).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((error as Error).message).to.contain('"https://bad": expected a registry host')
  })

  it('audit files / the namespace / everything', async () => {
    expect((await planWizard(scriptedPrompter(['audit', 'files', '.']), context)).argv).to.deep.equal([
      'audit',
      'images',
      '-f',
      '.',
    ])
    expect((await planWizard(scriptedPrompter(['audit', 'namespace']), context)).argv).to.deep.equal([
      'audit',
      'images',
      '-n',
      'team-a',
    ])
    expect((await planWizard(scriptedPrompter(['audit', 'all']), context)).argv).to.deep.equal([
      'audit',
      'images',
      '-A',
    ])
    const error = await planWizard(scriptedPrompter(['audit', 'files', '/nonexistent']), context).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((error as Error).message).to.contain('/nonexistent does not exist')
  })

  it('patch the API server (dry run by default), restore, status', async () => {
    expect(
      (await planWizard(scriptedPrompter(['patch-apiserver', 'ImagePolicyWebhook', '', true]), context)).argv,
    ).to.deep.equal(['patch-apiserver', '--enable-plugins', 'ImagePolicyWebhook', '--dry-run'])
    const restore = await planWizard(scriptedPrompter(['restore']), context)
    // The newest backup a restore did not make, named before "Run it?".
    expect(restore.argv).to.deep.equal([
      'patch-apiserver',
      '--manifest',
      manifest,
      '--restore=/b/kube-apiserver.yaml.1',
    ])
    expect(restore.summary[0]).to.equal(
      'put back /b/kube-apiserver.yaml.1, taken 2026-11-30T01:00:00Z by: kubectl imgsec whitelist enable',
    )
    expect((await planWizard(scriptedPrompter(['status']), context)).argv).to.deep.equal(['whitelist', 'status'])
  })

  it('a refused password is asked again, and only the password; after three refusals the wizard says why', async () => {
    const tried: string[] = []
    const checking: WizardContext = {
      ...context,
      checkLogin: async (_server, _user, password) => {
        tried.push(password)
        return password === 'right'
          ? undefined
          : 'registry r.example.com rejected username "me" and the password (HTTP 401)'
      },
    }
    const answers = ['create-regcred', 'regcred', 'r.example.com', 'me', '', 'team-a', '', true]
    const prompt = scriptedPrompter([...answers, 'wrong1', 'wrong2', 'right'])
    const plan = await planWizard(prompt, checking)
    expect(tried).to.deep.equal(['wrong1', 'wrong2', 'right'])
    expect(plan.argv).to.include('right')
    expect(prompt.asked.filter((q) => q === 'Password (not shown)')).to.have.length(3)
    const error = await planWizard(scriptedPrompter([...answers, 'a', 'b', 'c']), checking).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((error as Error).message).to.equal(
      'registry r.example.com rejected username "me" and the password (HTTP 401) (3 attempts)',
    )
  })

  it('the control-plane tasks say at once when this machine has no kube-apiserver manifest', async () => {
    const elsewhere: WizardContext = {
      ...context,
      controlPlane: {manifest: '/nonexistent/kube-apiserver.yaml', backups: () => []},
    }
    for (const answers of [['patch-apiserver'], ['restore'], ['whitelist-enable', 'static']]) {
      const prompt = scriptedPrompter([...answers])
      const error = await planWizard(prompt, elsewhere).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((error as Error).message).to.equal(
        'there is no kube-apiserver manifest at /nonexistent/kube-apiserver.yaml on this machine: run this task on a control-plane node, as root',
      )
      expect(prompt.asked).to.have.length(answers.length)
    }
    const vap = await planWizard(scriptedPrompter(['whitelist-enable', 'vap', 'docker.io']), elsewhere)
    expect(vap.argv).to.include('vap')
    const none = await planWizard(scriptedPrompter(['restore']), {
      ...context,
      controlPlane: {manifest, backups: () => []},
    }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((none as Error).message).to.match(/^there is no backup of .* to restore/)
  })
})

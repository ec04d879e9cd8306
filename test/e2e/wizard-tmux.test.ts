import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {CLI} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'

const TMUX = '/usr/bin/tmux'
const tmux = (...args: string[]) => execFileSync(TMUX, args, {encoding: 'utf8'})

describe('wizard in a real terminal (tmux, built CLI, fake API server)', function () {
  this.timeout(60_000)
  let api: FakeKubeApiServer
  let session: string
  before(function () {
    if (!existsSync(TMUX)) {
      console.warn('SKIPPING wizard terminal test: tmux is not installed (apt-get install tmux)')
      this.skip()
    }
  })
  afterEach(async () => {
    try {
      tmux('kill-session', '-t', session)
    } catch {}
    await api?.stop()
  })

  const screen = () => tmux('capture-pane', '-p', '-t', session)
  async function waitFor(text: string | RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const shown = screen()
      if (typeof text === 'string' ? shown.includes(text) : text.test(shown)) return shown
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${text} on screen:\n${shown}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  const keys = (...k: string[]) => tmux('send-keys', '-t', session, ...k)

  async function start(): Promise<void> {
    api = await FakeKubeApiServer.start({namespaces: ['team-a']})
    const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-tmux-'))
    const kubeconfig = await api.writeKubeconfig(path.join(dir, 'kubeconfig'), {namespace: 'team-a'})
    session = `imgsec-${process.pid}-${Date.now()}`
    const command = `env HOME=${dir} KUBECONFIG=${kubeconfig} ${process.execPath} ${CLI}; echo "[exit $?]"; sleep 30`
    tmux('new-session', '-d', '-s', session, '-x', '250', '-y', '50', command)
  }

  it('creates a pull secret from the answers, showing the equivalent command and never the password', async () => {
    await start()
    await waitFor('What do you want to do?')
    keys('Enter')
    await waitFor('Secret name')
    keys('wizard-cred', 'Enter')
    await waitFor('Registry server')
    keys('Enter')
    await waitFor('Username')
    keys('dock_user', 'Enter')
    await waitFor('Email (optional)')
    keys('Enter')
    await waitFor('Namespace')
    keys('Enter')
    await waitFor('Attach it to a service account')
    keys('Enter')
    await waitFor('Check the credentials against the registry first?')
    keys('n', 'Enter')
    await waitFor('Password (not shown)')
    keys('Tmux-Secret-Pw-9', 'Enter')
    const summary = await waitFor('Run it?')
    expect(summary).to.contain(
      'kubectl imgsec create-regcred wizard-cred --docker-server https://index.docker.io/v1/ --docker-username dock_user --password-stdin -n team-a --attach-to-sa default --no-verify',
    )
    expect(summary).to.not.contain('Tmux-Secret-Pw-9')
    keys('Enter')
    const done = await waitFor('[exit 0]')
    expect(done).to.contain('secret/wizard-cred created in namespace "team-a"; attached to serviceaccount/default')
    expect(done).to.not.contain('Tmux-Secret-Pw-9')
    const secret = api.getObject('secrets', 'team-a', 'wizard-cred')!
    expect(
      JSON.parse(Buffer.from(secret.data['.dockerconfigjson'], 'base64').toString()).auths[
        'https://index.docker.io/v1/'
      ].password,
    ).to.equal('Tmux-Secret-Pw-9')
  })

  it('Ctrl-C at a prompt exits cleanly with nothing changed', async () => {
    await start()
    await waitFor('What do you want to do?')
    keys('Enter')
    await waitFor('Secret name')
    keys('C-c')
    const shown = await waitFor(/\[exit \d+\]/)
    expect(shown).to.contain('Cancelled: nothing was changed.')
    expect(shown).to.contain('[exit 130]')
    expect(shown).to.not.match(/\n\s+at /)
    expect(api.listObjects('secrets', 'team-a')).to.deep.equal([])
  })
})

import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {createServer, type Server} from 'node:http'
import net from 'node:net'
import {writeFileSync} from 'node:fs'

import {CLI} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'

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

  async function start(options: {kubeconfig?: (dir: string) => string} = {}): Promise<void> {
    api = await FakeKubeApiServer.start({namespaces: ['team-a']})
    const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-tmux-'))
    const kubeconfig = options.kubeconfig
      ? options.kubeconfig(dir)
      : await api.writeKubeconfig(path.join(dir, 'kubeconfig'), {namespace: 'team-a'})
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
  it('an API server that accepts and never answers: the first question still comes within seconds', async () => {
    // Issue 12: the wizard showed a blank screen forever. Its defaults from the cluster wait at most 5 s.
    const sockets: net.Socket[] = []
    const silent = net.createServer((socket) => {
      sockets.push(socket)
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const port = (silent.address() as net.AddressInfo).port
      await start({
        kubeconfig: (dir) => {
          const file = path.join(dir, 'kubeconfig')
          writeFileSync(
            file,
            [
              'apiVersion: v1',
              'kind: Config',
              `clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
              'users: [{name: u, user: {token: t}}]',
              'contexts: [{name: x, context: {cluster: c, user: u, namespace: team-a}}]',
              'current-context: x',
              '',
            ].join('\n'),
          )
          return file
        },
      })
      const started = Date.now()
      await waitFor('What do you want to do?', 12_000)
      expect(Date.now() - started).to.be.below(12_000)
      keys('C-c')
      await waitFor('[exit 130]')
    } finally {
      for (const socket of sockets) socket.destroy()
      silent.close()
    }
  })

  describe("the wizard's error paths never show a secret (canary)", () => {
    const CANARY = 'TopSecret99-wizard-canary'
    let registry: RunningRegistry | undefined
    let errorPage: Server | undefined
    after(async () => {
      await registry?.stop()
      errorPage?.close()
    })

    /** Answer the pull-secret questions up to the password, for a registry at `server`. */
    async function askForPullSecret(server: string): Promise<void> {
      await waitFor('What do you want to do?')
      keys('Enter')
      await waitFor('Secret name')
      keys('Enter')
      await waitFor('Registry server')
      keys(server, 'Enter')
      await waitFor('Username')
      keys('dock_user', 'Enter')
      await waitFor('Email (optional)')
      keys('Enter')
      await waitFor('Namespace')
      keys('Enter')
      await waitFor('Attach it to a service account')
      keys('Enter')
      await waitFor('Check the credentials against the registry first?')
      keys('Enter')
    }

    it('a kubeconfig whose token line is broken: one error line, the token nowhere', async () => {
      await start({
        kubeconfig: (dir) => {
          const file = path.join(dir, 'kubeconfig')
          writeFileSync(
            file,
            [
              'apiVersion: v1',
              'kind: Config',
              `clusters: [{name: c, cluster: {server: "${api.url}"}}]`,
              `users: [{name: u, user: {token: "${CANARY}\\q"}}]`,
              'contexts: [{name: x, context: {cluster: c, user: u}}]',
              'current-context: x',
              '',
            ].join('\n'),
          )
          return file
        },
      })
      const shown = await waitFor(/\[exit \d+\]/)
      expect(shown).to.contain('[exit 1]')
      expect(shown).to.match(/^error: .*kubeconfig.*$/m)
      expect(shown).to.not.contain(CANARY)
      expect(shown).to.not.match(/\n\s+at /)
    })

    it('a registry that refuses the password three times: the refusals never show it', async function () {
      requireRegistry(this, 'the wizard-tmux e2e tests')
      registry = await startRegistry({users: {dock_user: 'the-right-one'}})
      await start()
      await askForPullSecret(registry.url)
      for (let attempt = 1; attempt <= 3; attempt++) {
        await waitFor('Password (not shown)')
        keys(`${CANARY}-${attempt}`, 'Enter')
        // The refusal is printed, then the password is asked again.
        if (attempt < 3) await waitFor(new RegExp(`(?:try again[\\s\\S]*){${attempt}}Password \\(not shown\\)`))
      }
      const shown = await waitFor(/\[exit \d+\]/)
      expect(shown).to.contain('(3 attempts)')
      expect(shown).to.contain('[exit 1]')
      expect(shown).to.not.contain(CANARY)
      expect(api.listObjects('secrets', 'team-a')).to.deep.equal([])
    })

    it('a registry whose error page holds a secret: the run that follows names the failure, never the page', async () => {
      errorPage = createServer((_req, res) => {
        res.writeHead(500, {'content-type': 'text/plain'})
        res.end(`internal error; token=${CANARY}`)
      })
      await new Promise<void>((resolve) => errorPage!.listen(0, '127.0.0.1', resolve))
      const port = (errorPage.address() as {port: number}).port
      await start()
      await askForPullSecret(`http://127.0.0.1:${port}`)
      await waitFor('Password (not shown)')
      keys(`${CANARY}-pw`, 'Enter')
      await waitFor('Run it?')
      keys('Enter')
      const shown = await waitFor(/\[exit \d+\]/)
      expect(shown).to.contain('[exit 1]')
      expect(shown).to.match(/^error: .*HTTP 500/m)
      expect(shown).to.not.contain(CANARY)
      expect(api.listObjects('secrets', 'team-a')).to.deep.equal([])
    })
  })
})

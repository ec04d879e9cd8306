import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {UserError} from '../../../src/lib/errors.js'
import {kubeconfigContexts, loadKubeconfig, requireServer} from '../../../src/lib/cluster/kubeconfig.js'

function kubeconfigFile(dir: string, name: string, doc: object): string {
  const file = path.join(dir, name)
  writeFileSync(file, JSON.stringify(doc))
  return file
}

function config(
  current: string | undefined,
  entries: Array<{context: string; cluster: string; server: string; namespace?: string; user?: string}>,
): object {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': current,
    clusters: entries.map((e) => ({name: e.cluster, cluster: {server: e.server, 'certificate-authority': 'ca.crt'}})),
    users: entries.map((e) => ({
      name: e.user ?? `${e.context}-user`,
      user: {token: 't', 'client-key': 'keys/client.key'},
    })),
    contexts: entries.map((e) => ({
      name: e.context,
      context: {cluster: e.cluster, user: e.user ?? `${e.context}-user`, namespace: e.namespace},
    })),
  }
}

describe('kubeconfig', () => {
  let dir: string
  let first: string
  let second: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-kc-'))
    first = kubeconfigFile(
      dir,
      'first.yaml',
      config('one', [
        {context: 'one', cluster: 'c1', server: 'https://one.example:6443', namespace: 'team-a'},
        {context: 'shared', cluster: 'shared', server: 'https://first-wins.example:6443'},
      ]),
    )
    second = kubeconfigFile(
      dir,
      'second.yaml',
      config('two', [
        {context: 'two', cluster: 'c2', server: 'https://two.example:6443'},
        {context: 'shared', cluster: 'shared', server: 'https://second-loses.example:6443'},
      ]),
    )
  })

  it("with several KUBECONFIG files, the first file's current-context wins", () => {
    const resolved = loadKubeconfig({}, {KUBECONFIG: [first, second].join(path.delimiter)})
    expect(resolved.contextName).to.equal('one')
    expect(resolved.server).to.equal('https://one.example:6443')
    expect(resolved.namespace).to.equal('team-a')
    expect(resolved.namespaceExplicit).to.equal(false)
  })

  it('the first definition of a name wins', () => {
    const resolved = loadKubeconfig({context: 'shared'}, {KUBECONFIG: [first, second].join(path.delimiter)})
    expect(resolved.server).to.equal('https://first-wins.example:6443')
    const reversed = loadKubeconfig({context: 'shared'}, {KUBECONFIG: [second, first].join(path.delimiter)})
    expect(reversed.server).to.equal('https://second-loses.example:6443')
    expect(reversed.contextName).to.equal('shared')
  })

  it('contexts from later files are usable', () => {
    const resolved = loadKubeconfig({context: 'two'}, {KUBECONFIG: [first, second].join(path.delimiter)})
    expect(resolved.server).to.equal('https://two.example:6443')
    expect(resolved.namespace).to.equal('default')
  })

  it('kubeconfigContexts: every context of the merged files once, in kubectl order, missing files skipped', () => {
    const missing = path.join(dir, 'missing.yaml')
    const merged = kubeconfigContexts(undefined, {KUBECONFIG: [first, missing, second].join(path.delimiter)})
    expect(merged.names).to.deep.equal(['one', 'shared', 'two'])
    expect(merged.where).to.equal([first, second].join(path.delimiter))
    expect(kubeconfigContexts(second, {KUBECONFIG: first}).names).to.deep.equal(['two', 'shared'])
    // A current-context naming no context does not stop the listing (kubectl config get-contexts lists them too).
    const dangling = kubeconfigFile(
      dir,
      'dangling.yaml',
      config('gone', [{context: 'x', cluster: 'c', server: 'https://x'}]),
    )
    expect(kubeconfigContexts(dangling).names).to.deep.equal(['x'])
  })

  it('skips KUBECONFIG entries that do not exist', () => {
    const resolved = loadKubeconfig({}, {KUBECONFIG: [path.join(dir, 'missing.yaml'), second].join(path.delimiter)})
    expect(resolved.files).to.deep.equal([second])
    expect(resolved.contextName).to.equal('two')
  })

  it('fails at once, naming it, on an unknown --context', () => {
    expect(() => loadKubeconfig({context: 'nope'}, {KUBECONFIG: first})).to.throw(
      UserError,
      /context "nope" does not exist/,
    )
  })

  it('an explicit --kubeconfig must exist and replaces KUBECONFIG', () => {
    expect(() => loadKubeconfig({kubeconfig: path.join(dir, 'missing.yaml')}, {})).to.throw(
      UserError,
      /missing\.yaml.*does not exist/,
    )
    const resolved = loadKubeconfig({kubeconfig: second}, {KUBECONFIG: first})
    expect(resolved.contextName).to.equal('two')
  })

  it('-n overrides the context namespace and is marked explicit', () => {
    const resolved = loadKubeconfig({namespace: 'other'}, {KUBECONFIG: first})
    expect(resolved.namespace).to.equal('other')
    expect(resolved.namespaceExplicit).to.equal(true)
  })

  it('resolves relative certificate paths against the file that names them', () => {
    const resolved = loadKubeconfig({}, {KUBECONFIG: first})
    const cluster = resolved.merged.clusters[0].cluster as Record<string, string>
    const user = resolved.merged.users[0].user as Record<string, string>
    expect(cluster['certificate-authority']).to.equal(path.join(dir, 'ca.crt'))
    expect(user['client-key']).to.equal(path.join(dir, 'keys', 'client.key'))
  })

  it('--as sets impersonation on the chosen user only', () => {
    const resolved = loadKubeconfig({as: 'jane'}, {KUBECONFIG: first})
    const users = Object.fromEntries(resolved.merged.users.map((u) => [u.name, (u.user as Record<string, unknown>).as]))
    expect(users).to.deep.equal({'one-user': 'jane', 'shared-user': undefined})
  })

  it('without any kubeconfig the namespace is default and a cluster call says what to do', () => {
    const resolved = loadKubeconfig({}, {HOME: dir})
    expect(resolved.namespace).to.equal('default')
    expect(() => requireServer(resolved)).to.throw(UserError, /no kubeconfig found/)
  })

  it('names the file when it is not YAML', () => {
    const broken = path.join(dir, 'broken.yaml')
    writeFileSync(broken, 'clusters: [\n')
    expect(() => loadKubeconfig({}, {KUBECONFIG: broken})).to.throw(UserError, /broken\.yaml" is not valid YAML/)
  })
})

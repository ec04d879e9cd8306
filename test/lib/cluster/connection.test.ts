import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {kubeTarget} from '../../../src/cli/flags.js'
import {connectCluster, requireClient} from '../../../src/lib/cluster/connection.js'

const kubeconfig = (server?: string) => `apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: k, user: u, namespace: team-a}}]
clusters: [{name: k, cluster: {${server ? `server: ${server}` : ''}}}]
users: [{name: u, user: {token: t}}]
`

describe('connectCluster: the one client of a command, from an explicit target', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-connection-'))

  it("kubeTarget keeps --kubeconfig, --context, --as and --request-timeout, never -n (a command's own namespace, e.g. the backend's)", () => {
    expect(
      kubeTarget({
        kubeconfig: 'k',
        context: 'c',
        as: 'a',
        'request-timeout': '5s',
        namespace: 'imgsec-system',
      } as never),
    ).to.deep.equal({kubeconfig: 'k', context: 'c', as: 'a', requestTimeout: '5s'})
  })

  it("a kubeconfig with a server: a client whose namespace is the context's, not a flag's", async () => {
    const file = path.join(dir, 'with-server')
    writeFileSync(file, kubeconfig('https://127.0.0.1:6443'))
    const cluster = await connectCluster({kubeconfig: file, namespace: 'imgsec-system'} as never)
    expect(cluster.configured).to.equal(true)
    expect(requireClient(cluster).server).to.equal('https://127.0.0.1:6443')
    expect(requireClient(cluster).config.namespace).to.equal('team-a')
  })

  it("no server: not configured, and requireClient throws the kubeconfig's own message where a cluster is needed", async () => {
    const file = path.join(dir, 'no-server')
    writeFileSync(file, kubeconfig())
    const cluster = await connectCluster({kubeconfig: file})
    expect(cluster.configured).to.equal(false)
    expect(cluster.client).to.equal(undefined)
    expect(() => requireClient(cluster)).to.throw(`cluster "k" of context "c" has no server (kubeconfig ${file})`)
  })

  it('an unknown context: not configured, the message names it', async () => {
    const file = path.join(dir, 'with-server-2')
    writeFileSync(file, kubeconfig('https://127.0.0.1:6443'))
    const cluster = await connectCluster({kubeconfig: file, context: 'nope'})
    expect(cluster.configured).to.equal(false)
    expect(() => requireClient(cluster)).to.throw(`context "nope" does not exist in the kubeconfig (${file})`)
  })
})

import {expect} from 'chai'
import {readFileSync} from 'node:fs'

import {apiGet, localizeApiserverFlags, manifestApiserverFlags} from '../control-plane/control-plane.js'
import type {ControlPlane} from '../control-plane/control-plane.js'
import {describeReal, freshNamespace, sharedControlPlane, until} from './support.js'

describeReal('the real control plane harness', function () {
  this.timeout(180_000)
  let plane: ControlPlane
  before(async () => {
    plane = await sharedControlPlane()
  })

  it("runs the kubeadm manifest's own flags, with /etc/kubernetes under the test root and loopback addresses", () => {
    const fixture = manifestApiserverFlags(
      readFileSync(new URL('../fixtures/kube-apiserver.kubeadm-1.32.yaml', import.meta.url), 'utf8'),
    )
    const args = plane.apiserverArgs
    expect(args).to.include('--enable-admission-plugins=NodeRestriction')
    expect(args).to.include('--authorization-mode=Node,RBAC')
    expect(args).to.include(`--client-ca-file=${plane.dir}/etc/kubernetes/pki/ca.crt`)
    expect(args.filter((a) => a.startsWith('--secure-port='))).to.have.length(1)
    // Every flag of the manifest is there, by name.
    const names = (list: string[]) => list.map((a) => a.replace(/=.*$/s, ''))
    expect(names(args)).to.include.members(names(fixture))
  })

  it('reports the release it was built from', async () => {
    const version = JSON.parse((await apiGet(plane.server, plane.admin, '/version')).body)
    expect(version.gitVersion).to.equal(plane.binaries.version)
    const kubectl = await plane.kubectl(['version', '-o', 'json'])
    expect(kubectl.code, kubectl.stderr).to.equal(0)
    expect(JSON.parse(kubectl.stdout).serverVersion.gitVersion).to.equal(plane.binaries.version)
  })

  it('kube-controller-manager makes ReplicaSets and pods with real owner chains', async () => {
    const ns = await freshNamespace(plane)
    const created = await plane.kubectl(['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=2', '-n', ns])
    expect(created.code, created.stderr).to.equal(0)
    type Pod = {metadata: {ownerReferences?: Array<{kind: string}>}}
    const pods = await until(
      'two pods of the Deployment',
      async () => {
        const items = JSON.parse((await plane.kubectl(['get', 'pods', '-n', ns, '-o', 'json'])).stdout).items as Pod[]
        return items.length >= 2 ? items : undefined
      },
      20_000,
      200,
    )
    expect(pods).to.have.length(2)
    expect(pods.map((pod) => pod.metadata.ownerReferences?.[0]?.kind)).to.deep.equal(['ReplicaSet', 'ReplicaSet'])
  })

  it('a user without RBAC grants is refused with a real 403', async () => {
    const kubeconfig = await plane.userKubeconfig('nobody-at-all')
    const result = await plane.kubectl(['get', 'secrets', '-n', 'default'], {kubeconfig})
    expect(result.code).to.equal(1)
    expect(result.stderr).to.contain(
      'secrets is forbidden: User "nobody-at-all" cannot list resource "secrets" in API group "" in the namespace "default"',
    )
  })

  it('localizes only /etc/kubernetes paths and overrides only addresses and ports', () => {
    expect(
      localizeApiserverFlags(
        ['--a=/etc/kubernetes/pki/x', '--b=/etc/ssl/x', '--c=x,/etc/kubernetes/y', '--secure-port=6443'],
        '/r',
        {'secure-port': '1', 'bind-address': '127.0.0.1'},
      ),
    ).to.deep.equal([
      '--a=/r/etc/kubernetes/pki/x',
      '--b=/etc/ssl/x',
      '--c=x,/r/etc/kubernetes/y',
      '--secure-port=1',
      '--bind-address=127.0.0.1',
    ])
  })
})

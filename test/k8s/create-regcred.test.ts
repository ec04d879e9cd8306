import {expect} from 'chai'

import type {ControlPlane} from '../control-plane/control-plane.js'
import {cliTranscript, runCli} from '../support/cli.js'
import {describeReal, freshNamespace, sharedControlPlane} from './support.js'

const PASSWORD = 'K8s-Real-Canary-Pa55word'
const SERVER = 'myprivateregistry.com:5000'

describeReal('create-regcred against the real kube-apiserver', function () {
  this.timeout(120_000)
  let plane: ControlPlane
  let ns: string
  const kube = () => ['--kubeconfig', plane.kubeconfig]
  const json = async (args: string[], kubeconfig?: string) => {
    const result = await plane.kubectl([...args, '-o', 'json'], {kubeconfig})
    expect(result.code, result.stderr).to.equal(0)
    return JSON.parse(result.stdout)
  }
  before(async () => {
    plane = await sharedControlPlane()
    ns = await freshNamespace(plane, 'regcred')
  })

  it("the seeds' walkthrough: the secret, then a pod that names it in imagePullSecrets is admitted", async () => {
    const created = await runCli(
      [
        'create-regcred',
        'private-reg-cred',
        '--docker-server',
        SERVER,
        '--docker-username',
        'dock_user',
        '--password-stdin',
        '--docker-email',
        'dock_user@myprivateregistry.com',
        '--no-verify',
        '-n',
        ns,
        ...kube(),
      ],
      {input: `${PASSWORD}\n`},
    )
    expect(created.code, created.stderr).to.equal(0)
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name: 'private-nginx', namespace: ns},
      spec: {
        containers: [{name: 'nginx', image: `${SERVER}/nginx:alpine`}],
        imagePullSecrets: [{name: 'private-reg-cred'}],
      },
    }
    const applied = await plane.kubectl(['apply', '-f', '-'], {input: JSON.stringify(pod)})
    expect(applied.code, applied.stderr).to.equal(0)
    const stored = await json(['get', 'pod', 'private-nginx', '-n', ns])
    expect(stored.spec.imagePullSecrets).to.deep.equal([{name: 'private-reg-cred'}])
  })

  it('stores exactly what kubectl create secret docker-registry stores on the same server (data, type, keys)', async () => {
    const args = [
      '--docker-server',
      SERVER,
      '--docker-username',
      'dock_user',
      '--docker-password',
      PASSWORD,
      '--docker-email',
      'dock_user@myprivateregistry.com',
      '-n',
      ns,
    ]
    const ours = await runCli(['create-regcred', 'ours', ...args, '--no-verify', ...kube()])
    expect(ours.code, ours.stderr).to.equal(0)
    const theirs = await plane.kubectl(['create', 'secret', 'docker-registry', 'theirs', ...args])
    expect(theirs.code, theirs.stderr).to.equal(0)
    const [a, b] = [await json(['get', 'secret', 'ours', '-n', ns]), await json(['get', 'secret', 'theirs', '-n', ns])]
    expect(a.type).to.equal('kubernetes.io/dockerconfigjson')
    expect(a.type).to.equal(b.type)
    expect(Object.keys(a.data)).to.deep.equal(Object.keys(b.data))
    expect(a.data).to.deep.equal(b.data)
  })

  it('-o yaml and -o json print what kubectl get prints, byte for byte; several namespaces as one List', async () => {
    const other = await freshNamespace(plane, 'regcred-b')
    const args = [
      '--docker-server',
      SERVER,
      '--docker-username',
      'u',
      '--docker-password',
      PASSWORD,
      '--no-verify',
      ...kube(),
    ]
    for (const format of ['yaml', 'json']) {
      const one = await runCli(['create-regcred', `printed-${format}`, ...args, '-n', ns, '-o', format])
      expect(one.code, one.stderr).to.equal(0)
      const got = await plane.kubectl(['get', 'secret', `printed-${format}`, '-n', ns, '-o', format])
      expect(one.stdout).to.equal(got.stdout)
      const many = await runCli([
        'create-regcred',
        `listed-${format}`,
        ...args,
        '--namespaces',
        `${ns},${other}`,
        '-o',
        format,
      ])
      expect(many.code, many.stderr).to.equal(0)
      const list = await plane.kubectl(['get', 'secret', `listed-${format}`, '-n', ns, '-o', format])
      const listed = format === 'json' ? JSON.parse(many.stdout) : (await import('yaml')).parse(many.stdout)
      expect(listed.kind).to.equal('List')
      expect(listed.items.map((item: {metadata: {namespace: string}}) => item.metadata.namespace)).to.deep.equal([
        ns,
        other,
      ])
      // The first item is what kubectl get prints for it (same bytes once the List's indentation is removed).
      const first =
        format === 'json'
          ? JSON.stringify(listed.items[0], null, 4) + '\n'
          : (await import('yaml')).stringify(listed.items[0], {
              version: '1.1',
              sortMapEntries: true,
              indentSeq: false,
              lineWidth: 0,
            })
      expect(first).to.equal(list.stdout)
    }
  })

  it('--attach-to-sa keeps the entries already there', async () => {
    const sa = await plane.kubectl(['create', 'serviceaccount', 'builder', '-n', ns])
    expect(sa.code, sa.stderr).to.equal(0)
    const patched = await plane.kubectl([
      'patch',
      'serviceaccount',
      'builder',
      '-n',
      ns,
      '-p',
      '{"imagePullSecrets":[{"name":"existing-one"}]}',
    ])
    expect(patched.code, patched.stderr).to.equal(0)
    const result = await runCli([
      'create-regcred',
      'attached',
      '--docker-server',
      SERVER,
      '--docker-username',
      'u',
      '--docker-password',
      PASSWORD,
      '--no-verify',
      '--attach-to-sa',
      'builder',
      '-n',
      ns,
      ...kube(),
    ])
    expect(result.code, result.stderr).to.equal(0)
    expect((await json(['get', 'serviceaccount', 'builder', '-n', ns])).imagePullSecrets).to.deep.equal([
      {name: 'existing-one'},
      {name: 'attached'},
    ])
    const again = await runCli([
      'create-regcred',
      'attached',
      '--docker-server',
      SERVER,
      '--docker-username',
      'u',
      '--docker-password',
      PASSWORD,
      '--no-verify',
      '--attach-to-sa',
      'builder',
      '--overwrite',
      '-n',
      ns,
      ...kube(),
    ])
    expect(again.code, again.stderr).to.equal(0)
    expect((await json(['get', 'serviceaccount', 'builder', '-n', ns])).imagePullSecrets).to.deep.equal([
      {name: 'existing-one'},
      {name: 'attached'},
    ])
  })

  it('--dry-run=server is validated by the server and stores nothing', async () => {
    const result = await runCli([
      'create-regcred',
      'dry',
      '--docker-server',
      SERVER,
      '--docker-username',
      'u',
      '--docker-password',
      PASSWORD,
      '--no-verify',
      '--dry-run=server',
      '-o',
      'name',
      '-n',
      ns,
      ...kube(),
    ])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('secret/dry\n')
    expect((await plane.kubectl(['get', 'secret', 'dry', '-n', ns])).code).to.equal(1)
    const invalid = await runCli([
      'create-regcred',
      'Not_A_Valid_Name',
      '--docker-username',
      'u',
      '--docker-password',
      PASSWORD,
      '--dry-run=server',
      '-n',
      ns,
      ...kube(),
    ])
    expect(invalid.code).to.equal(1)
    expect(invalid.stderr).to.match(/^error: .*Not_A_Valid_Name/)
  })

  it('a user without rights: one clear 403 line, nothing created', async () => {
    const kubeconfig = await plane.userKubeconfig('regcred-nobody')
    const result = await runCli([
      'create-regcred',
      'forbidden',
      '--docker-server',
      SERVER,
      '--docker-username',
      'u',
      '--docker-password',
      PASSWORD,
      '--no-verify',
      '-n',
      ns,
      '--kubeconfig',
      kubeconfig,
    ])
    expect(result.code).to.equal(1)
    expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1)
    expect(result.stderr).to.match(
      /^error: (namespace "[^"]+": )?forbidden: RBAC does not allow you to create secrets?\b/,
    )
    expect((await plane.kubectl(['get', 'secret', 'forbidden', '-n', ns])).code).to.equal(1)
  })

  it('a user who may create secrets but not patch service accounts: refused before the secret is created', async () => {
    const role = await plane.kubectl([
      'create',
      'role',
      'secret-writer',
      '--verb=create,get,update',
      '--resource=secrets',
      '-n',
      ns,
    ])
    expect(role.code, role.stderr).to.equal(0)
    const binding = await plane.kubectl([
      'create',
      'rolebinding',
      'secret-writer',
      '--role=secret-writer',
      '--user=secret-writer',
      '-n',
      ns,
    ])
    expect(binding.code, binding.stderr).to.equal(0)
    const kubeconfig = await plane.userKubeconfig('secret-writer')
    const result = await runCli([
      'create-regcred',
      'half',
      '--docker-server',
      SERVER,
      '--docker-username',
      'u',
      '--docker-password',
      PASSWORD,
      '--no-verify',
      '--attach-to-sa',
      'builder',
      '-n',
      ns,
      '--kubeconfig',
      kubeconfig,
    ])
    expect(result.code).to.equal(1)
    expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1)
    expect(result.stderr, result.stderr).to.match(
      /^error: namespace "[^"]+": forbidden: RBAC does not allow you to get serviceaccounts in namespace .* which --attach-to-sa needs; nothing was created$/m,
    )
    expect((await plane.kubectl(['get', 'secret', 'half', '-n', ns])).code, 'no half-made secret').to.equal(1)
  })

  it('the password never appears in any output', () => {
    for (const run of cliTranscript) {
      expect(run.stdout + run.stderr, run.args.join(' ')).not.to.contain(PASSWORD)
    }
  })
})

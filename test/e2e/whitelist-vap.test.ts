import {expect} from 'chai'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parseAllDocuments} from 'yaml'

import {runCli} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'

describe('whitelist --mode vap (built CLI, fake API server)', () => {
  let api: FakeKubeApiServer
  let kubeconfig: string
  before(async () => {
    api = await FakeKubeApiServer.start()
    kubeconfig = await api.writeKubeconfig(path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-vap-')), 'kubeconfig'))
  })
  after(async () => {
    await api?.stop()
  })
  const run = (args: string[]) => runCli(['whitelist', ...args], {env: {KUBECONFIG: kubeconfig}})

  it('--dry-run=client -o yaml prints the params ConfigMap, the policy and the binding, contacting nothing', async () => {
    api.requests.length = 0
    const result = await run([
      'enable',
      '--mode',
      'vap',
      '--allowed-registries',
      'docker.io,registry.k8s.io',
      '--dry-run=client',
      '-o',
      'yaml',
    ])
    expect(result.code, result.stderr).to.equal(0)
    // One v1 List, as kubectl prints several objects (and as kubectl apply -f - takes them).
    const list = parseAllDocuments(result.stdout).map((d) => d.toJS())
    expect(list.map((d) => d.kind)).to.deep.equal(['List'])
    const docs = list[0].items as Array<{kind: string; data?: unknown}>
    expect(docs.map((d) => d.kind)).to.deep.equal([
      'ConfigMap',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ])
    expect(docs[0].data).to.deep.equal({allowedRegistries: 'docker.io,registry.k8s.io'})
    expect(api.requests).to.deep.equal([])
  })

  it('a policy with exemptImages is refused (the CEL would not enforce them), before anything is sent', async () => {
    const policy = path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-vap-policy-')), 'policy.yaml')
    const {writeFileSync} = await import('node:fs')
    writeFileSync(policy, 'allowedRegistries: [docker.io]\nexemptImages: ["registry.k8s.io/pause*"]\n')
    api.requests.length = 0
    const result = await run(['enable', '--mode', 'vap', '--policy', policy])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.equal(
      "error: the policy's exemptImages (registry.k8s.io/pause*) are not enforced by --mode vap: remove them (exempt namespaces instead with exemptNamespaces), or use the ImagePolicyWebhook mode, whose backend honours them\n",
    )
    expect(api.requests.filter((request) => request.method !== 'GET')).to.deep.equal([])
  })

  it('applies the objects; a second run changes nothing', async () => {
    const first = await run(['enable', '--mode', 'vap', '--allowed-registries', 'docker.io,registry.k8s.io'])
    expect(first.code, first.stderr).to.equal(0)
    expect(first.stdout).to.equal(
      [
        'configmap/imgsec-allowed-registries created',
        'validatingadmissionpolicy.admissionregistration.k8s.io/imgsec-image-policy created',
        'validatingadmissionpolicybinding.admissionregistration.k8s.io/imgsec-image-policy created',
        '',
      ].join('\n'),
    )
    expect(first.stderr).to.contain('has not reported type checking of the policy yet')
    const vap = api.getObject('validatingadmissionpolicies', undefined, 'imgsec-image-policy')!
    expect(
      vap.spec.validations.map((v: {messageExpression: string}) => v.messageExpression.split(':')[0].slice(1)),
    ).to.deep.equal(['image-reference-invalid', 'image-registry-not-allowed', 'image-tag-missing', 'image-tag-latest'])
    const second = await run(['enable', '--mode', 'vap', '--allowed-registries', 'docker.io,registry.k8s.io'])
    expect(second.stdout).to.equal(
      [
        'configmap/imgsec-allowed-registries unchanged',
        'validatingadmissionpolicy.admissionregistration.k8s.io/imgsec-image-policy unchanged',
        'validatingadmissionpolicybinding.admissionregistration.k8s.io/imgsec-image-policy unchanged',
        '',
      ].join('\n'),
    )
    const changed = await run(['enable', '--mode', 'vap', '--allowed-registries', 'docker.io,registry.k8s.io,quay.io'])
    expect(changed.stdout).to.contain('configmap/imgsec-allowed-registries configured\n')
    expect(api.getObject('configmaps', 'kube-system', 'imgsec-allowed-registries')!.data.allowedRegistries).to.equal(
      'docker.io,registry.k8s.io,quay.io',
    )
  })

  it('--dry-run=server sends dryRun=All and stores nothing new', async () => {
    const before = api.getObject('configmaps', 'kube-system', 'imgsec-allowed-registries')!.metadata.resourceVersion
    const result = await run(['enable', '--mode', 'vap', '--allowed-registries', 'docker.io', '--dry-run=server'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.contain('configmap/imgsec-allowed-registries configured (server dry run)')
    expect(api.getObject('configmaps', 'kube-system', 'imgsec-allowed-registries')!.metadata.resourceVersion).to.equal(
      before,
    )
  })

  it('disable deletes the three objects; a second disable changes nothing', async () => {
    const result = await run(['disable', '--mode', 'vap'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.contain(
      'deleted validatingadmissionpolicy.admissionregistration.k8s.io/imgsec-image-policy',
    )
    expect(api.getObject('validatingadmissionpolicies', undefined, 'imgsec-image-policy')).to.equal(undefined)
    expect(api.getObject('configmaps', 'kube-system', 'imgsec-allowed-registries')).to.equal(undefined)
    expect((await run(['disable', '--mode', 'vap'])).stdout).to.equal(
      'no ValidatingAdmissionPolicy from kubectl-imgsec found: nothing changed\n',
    )
  })

  it('a missing permission is found before anything is applied and named in one line', async () => {
    api.deny({verb: 'create', resource: 'validatingadmissionpolicies'})
    const result = await run(['enable', '--mode', 'vap', '--allowed-registries', 'docker.io'])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.equal(
      'error: RBAC does not allow you to create validatingadmissionpolicies.admissionregistration.k8s.io; --mode vap needs these (nothing was changed)\n',
    )
    expect(api.getObject('configmaps', 'kube-system', 'imgsec-allowed-registries')).to.equal(undefined)
  })
})

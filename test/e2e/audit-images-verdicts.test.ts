import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {runCli} from '../support/cli.js'

// Issue 11: verdicts that used to hide findings.
const EVIL_DAEMONSET = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: agent
        image: evil.example.com/agent:latest
        securityContext:
          privileged: true
          capabilities: {add: [SYS_ADMIN]}
`

type JsonFinding = {check: string; resource: {kind: string; name: string}}

describe('audit images -f: verdicts (built CLI)', () => {
  let dir: string
  const write = (name: string, text: string) => {
    const file = path.join(dir, name)
    writeFileSync(file, text)
    return file
  }
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-verdicts-'))
  })
  after(() => {
    rmSync(dir, {recursive: true, force: true})
  })

  it('a policy file that does not name exemptNamespaces exempts no namespace', async () => {
    const manifest = write('agent.yaml', EVIL_DAEMONSET)
    const policy = write('policy.yaml', 'apiVersion: imgsec.io/v1alpha1\nkind: ImagePolicy\nrequireDigest: false\n')
    const result = await runCli(['audit', 'images', '-f', manifest, '--policy', policy, '-o', 'json'])
    expect(result.code, result.stderr).to.equal(3)
    const checks = (JSON.parse(result.stdout).findings as JsonFinding[]).map((f) => f.check)
    expect(checks).to.include.members(['image-tag-latest', 'privileged', 'capabilities-added'])
  })

  it('a named exempt namespace covers the image checks only, and the table counts what it hid', async () => {
    const manifest = write('agent.yaml', EVIL_DAEMONSET)
    const policy = write('policy-exempt.yaml', 'exemptNamespaces: [kube-system]\n')
    const json = await runCli(['audit', 'images', '-f', manifest, '--policy', policy, '-o', 'json'])
    expect(json.code, json.stderr).to.equal(3)
    const doc = JSON.parse(json.stdout)
    const checks = (doc.findings as JsonFinding[]).map((f) => f.check)
    expect(checks).to.include.members(['privileged', 'capabilities-added'])
    expect(checks.filter((check) => check.startsWith('image-'))).to.deep.equal([])
    expect(doc.summary.exempted).to.be.greaterThan(0)
    const table = await runCli(['audit', 'images', '-f', manifest, '--policy', policy])
    expect(table.stdout).to.contain(`${doc.summary.exempted} findings exempted by policy or annotation.`)
  })

  it('a kind the tool does not know is audited by its pod template and listed; other objects are counted as skipped', async () => {
    const manifest = write(
      'rollout.yaml',
      `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.25.3
        securityContext: {privileged: true}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {a: b}
`,
    )
    const result = await runCli(['audit', 'images', '-f', manifest])
    expect(result.code, result.stderr).to.equal(3)
    expect(result.stdout).to.match(/Rollout shop\/web {2}\(.*rollout\.yaml\)\n/)
    expect(result.stdout).to.match(/CRITICAL\s+privileged\s+web\s+8\s+/)
    expect(result.stdout).to.contain(
      'Audited by shape (a pod template in a kind the tool does not know): Rollout shop/web.\n',
    )
    expect(result.stdout).to.contain('1 object without a pod template skipped.\n')
    // The same in every format: the JSON/YAML summary and the SARIF run's properties.
    const json = JSON.parse((await runCli(['audit', 'images', '-f', manifest, '-o', 'json'])).stdout)
    expect(json.summary.auditedByShape).to.deep.equal(['Rollout shop/web'])
    expect(json.summary.skipped).to.equal(1)
    const yaml = parseYaml((await runCli(['audit', 'images', '-f', manifest, '-o', 'yaml'])).stdout)
    expect(yaml.summary).to.deep.equal(json.summary)
    const sarif = JSON.parse((await runCli(['audit', 'images', '-f', manifest, '-o', 'sarif'])).stdout)
    expect(sarif.runs[0].properties).to.deep.equal({exempted: 0, auditedByShape: ['Rollout shop/web'], skipped: 1})
  })

  it('a dockerconfigjson Secret written with stringData provides its registries', async () => {
    const config = JSON.stringify({
      auths: {'myprivateregistry.com:5000': {auth: Buffer.from('u:p').toString('base64')}},
    })
    const manifest = write(
      'private.yaml',
      `apiVersion: v1
kind: Secret
metadata: {name: regcred, namespace: default}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '${config}'
---
apiVersion: v1
kind: Pod
metadata: {name: private, namespace: default}
spec:
  imagePullSecrets: [{name: regcred}]
  containers:
  - name: c
    image: myprivateregistry.com:5000/nginx:1.25.3
`,
    )
    const policy = write('policy-private.yaml', 'privateRegistries: ["myprivateregistry.com:5000"]\n')
    const result = await runCli([
      'audit',
      'images',
      '-f',
      manifest,
      '--policy',
      policy,
      '-o',
      'json',
      '--fail-on',
      'none',
    ])
    expect(result.code, result.stderr).to.equal(0)
    expect((JSON.parse(result.stdout).findings as JsonFinding[]).map((f) => f.check)).to.not.include(
      'image-pull-secret-missing',
    )
  })
})

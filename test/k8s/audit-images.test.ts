// audit images against the real kube-apiserver: workloads applied through the API, their pods made
// by the real controllers (owner chains Pod → ReplicaSet → Deployment, Pod → StatefulSet,
// Pod → Job), give the same findings as the same objects audited from a file.
import {expect} from 'chai'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {parseAllDocuments, stringify} from 'yaml'

import type {ControlPlane} from '../control-plane/control-plane.js'
import {ROOT, runCli} from '../support/cli.js'
import {describeReal, freshNamespace, sharedControlPlane, tempDir, until} from './support.js'

interface Finding {
  check: string
  severity: string
  resource: {kind: string; namespace?: string; name: string}
  container?: string
  image?: string
}

const key = (f: Finding) =>
  [f.check, f.severity, f.resource.kind, f.resource.namespace, f.resource.name, f.container, f.image].join('|')

function extraWorkloads(): Array<Record<string, unknown>> {
  const podSpec = (image: string) => ({
    containers: [{name: 'main', image, securityContext: {allowPrivilegeEscalation: true}}],
  })
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: {name: 'db'},
      spec: {
        serviceName: 'db',
        replicas: 1,
        selector: {matchLabels: {app: 'db'}},
        template: {metadata: {labels: {app: 'db'}}, spec: podSpec('postgres:16')},
      },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {name: 'migrate'},
      spec: {template: {spec: {...podSpec('quay.io/acme/migrate'), restartPolicy: 'Never'}}},
    },
    {apiVersion: 'v1', kind: 'Pod', metadata: {name: 'debug'}, spec: podSpec('busybox:latest')},
  ]
}

describeReal('audit images against the real kube-apiserver', function () {
  this.timeout(180_000)
  let plane: ControlPlane
  let ns: string
  let file: string
  const pods = async () =>
    JSON.parse((await plane.kubectl(['get', 'pods', '-n', ns, '-o', 'json'])).stdout).items as Array<{
      metadata: {name: string; ownerReferences?: Array<{kind: string}>}
    }>

  before(async () => {
    plane = await sharedControlPlane()
    ns = await freshNamespace(plane, 'audit')
    const objects: Array<Record<string, any>> = []
    for (const example of ['insecure-deployment.yaml', 'hardened-deployment.yaml']) {
      for (const doc of parseAllDocuments(readFileSync(path.join(ROOT, 'examples', example), 'utf8')))
        objects.push(doc.toJS())
    }
    objects.push(...extraWorkloads())
    for (const object of objects) object.metadata = {...object.metadata, namespace: ns}
    file = path.join(tempDir('imgsec-audit-real-'), 'workloads.yaml')
    writeFileSync(file, objects.map((object) => stringify(object)).join('---\n'))
    const applied = await plane.kubectl(['apply', '-f', file])
    expect(applied.code, applied.stderr).to.equal(0)
    // The controllers make the pods: 2 + hardened replicas, 1 StatefulSet pod, 1 Job pod, the bare pod.
    const expected = objects.reduce(
      (sum, object) =>
        sum + (object.kind === 'Deployment' || object.kind === 'StatefulSet' ? (object.spec.replicas ?? 1) : 1),
      0,
    )
    await until(
      `${expected} pods`,
      async () => ((await pods()).length >= expected ? true : undefined),
      30_000,
      200,
    ).catch(() => undefined)
    expect((await pods()).length).to.equal(expected)
  })

  it('the pods carry real owner chains', async () => {
    const owners = new Set((await pods()).map((pod) => pod.metadata.ownerReferences?.[0]?.kind ?? 'none'))
    expect([...owners].sort()).to.deep.equal(['Job', 'ReplicaSet', 'StatefulSet', 'none'])
  })

  it('the same findings as the same objects audited from a file, each workload once', async () => {
    const fromCluster = await runCli([
      'audit',
      'images',
      '-n',
      ns,
      '--kubeconfig',
      plane.kubeconfig,
      '-o',
      'json',
      '--fail-on',
      'none',
    ])
    expect(fromCluster.code, fromCluster.stderr).to.equal(0)
    const fromFile = await runCli(['audit', 'images', '-f', file, '-o', 'json', '--fail-on', 'none'])
    expect(fromFile.code, fromFile.stderr).to.equal(0)
    const cluster = (JSON.parse(fromCluster.stdout).findings as Finding[]).map(key).sort()
    const files = (JSON.parse(fromFile.stdout).findings as Finding[]).map(key).sort()
    expect(cluster.length).to.be.greaterThan(10)
    expect(cluster).to.deep.equal(files)
    const resources = new Set(
      (JSON.parse(fromCluster.stdout).findings as Finding[]).map((f) => `${f.resource.kind}/${f.resource.name}`),
    )
    expect([...resources].sort()).to.deep.equal([
      'Deployment/insecure-web',
      'Job/migrate',
      'Pod/debug',
      'StatefulSet/db',
    ])
  })

  it('exit code 3 at the default --fail-on high, as for files', async () => {
    const result = await runCli(['audit', 'images', '-n', ns, '--kubeconfig', plane.kubeconfig])
    expect(result.code, result.stderr).to.equal(3)
    expect(result.stdout).to.contain('insecure-web')
  })
})

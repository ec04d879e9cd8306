import {expect} from 'chai'
import {mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {runCli} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {dockerConfigJson, requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'

const USER = 'puller'
const PASSWORD = 'Pull-Secret-Passw0rd'

describe('audit images --resolve-digests / --fix (built CLI, real registry)', () => {
  let registry: RunningRegistry
  let dir: string
  let dockerConfig: string
  let digests: Record<string, string>
  before(async function () {
    requireRegistry(this, '--resolve-digests tests')
    registry = await startRegistry({users: {[USER]: PASSWORD}})
    const credentials = {username: USER, password: PASSWORD}
    digests = {
      app: (await registry.pushImage('team/app', '1.0', credentials)).digest,
      latest: (await registry.pushImage('team/worker', 'latest', credentials, {format: 'oci'})).digest,
    }
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-pin-'))
    dockerConfig = path.join(dir, 'config.json')
    writeFileSync(dockerConfig, dockerConfigJson(registry.host, USER, PASSWORD))
  })
  after(async () => {
    await registry?.stop()
  })

  function manifest(): string {
    return [
      '# a comment that must survive',
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata: {name: app, namespace: shop}',
      'spec:',
      '  template:',
      '    spec:',
      '      containers:',
      `      - name: app   # trailing comment`,
      `        image: ${registry.host}/team/app:1.0`,
      `      - name: worker`,
      `        image: "${registry.host}/team/worker"`,
      `      - name: pinned`,
      `        image: '${registry.host}/team/app@${digests.app}'`,
      '',
    ].join('\n')
  }

  it('--resolve-digests names the digest each tag points to now', async () => {
    const file = path.join(dir, 'resolve.yaml')
    writeFileSync(file, manifest())
    const result = await runCli([
      'audit',
      'images',
      '-f',
      file,
      '--resolve-digests',
      '--docker-config',
      dockerConfig,
      '-o',
      'json',
      '--fail-on',
      'none',
    ])
    expect(result.code, result.stderr).to.equal(0)
    const messages = JSON.parse(result.stdout)
      .findings.filter((f: {check: string}) => f.check === 'image-digest-missing')
      .map((f: {container: string; message: string}) => [f.container, f.message])
    expect(messages).to.deep.equal([
      [
        'app',
        `${registry.host}/team/app:1.0 is not pinned by digest; the tag can be moved to other content; the tag now points to ${digests.app}`,
      ],
      [
        'worker',
        `${registry.host}/team/worker is not pinned by digest; the tag can be moved to other content; the tag now points to ${digests.latest}`,
      ],
    ])
    expect(result.stdout + result.stderr).to.not.contain(PASSWORD)
  })

  it('without credentials the registry refuses: a warning, the audit still runs', async () => {
    const file = path.join(dir, 'nocreds.yaml')
    writeFileSync(file, manifest())
    const result = await runCli(['audit', 'images', '-f', file, '--resolve-digests', '-o', 'json', '--fail-on', 'none'])
    expect(result.code).to.equal(0)
    expect(result.stderr).to.contain(
      `warning: cannot resolve ${registry.host}/team/app:1.0: the registry refused anonymous access (HTTP 401); give credentials with --docker-config`,
    )
  })

  it('--fix writes a copy where only the image scalars changed', async () => {
    const file = path.join(dir, 'fix.yaml')
    const original = manifest()
    writeFileSync(file, original)
    const fixDir = path.join(dir, 'fixed')
    const result = await runCli(
      [
        'audit',
        'images',
        '-f',
        file,
        '--fix',
        '--fix-dir',
        fixDir,
        '--docker-config',
        dockerConfig,
        '--fail-on',
        'none',
      ],
      {cwd: dir},
    )
    expect(result.code, result.stderr).to.equal(0)
    const copy = path.join(fixDir, 'fix.yaml')
    expect(result.stderr).to.contain(`pinned 2 images: ${file} → ${copy}`)
    expect(readFileSync(file, 'utf8')).to.equal(original)
    const expected = original
      .replace(`image: ${registry.host}/team/app:1.0`, `image: ${registry.host}/team/app:1.0@${digests.app}`)
      .replace(`image: "${registry.host}/team/worker"`, `image: "${registry.host}/team/worker@${digests.latest}"`)
    expect(readFileSync(copy, 'utf8')).to.equal(expected)
    const again = await runCli(['audit', 'images', '-f', copy, '-o', 'json', '--fail-on', 'none'])
    expect(JSON.parse(again.stdout).findings.map((f: {check: string}) => f.check)).to.not.include(
      'image-digest-missing',
    )
  })

  it('--fix --in-place backs up first, then edits; a second run changes nothing', async () => {
    const file = path.join(dir, 'inplace.yaml')
    const original = manifest()
    writeFileSync(file, original, {mode: 0o640})
    const backupDir = path.join(dir, 'backups')
    const args = [
      'audit',
      'images',
      '-f',
      file,
      '--fix',
      '--in-place',
      '--backup-dir',
      backupDir,
      '--docker-config',
      dockerConfig,
      '--fail-on',
      'none',
    ]
    const first = await runCli(args)
    expect(first.code, first.stderr).to.equal(0)
    expect(readFileSync(file, 'utf8')).to.contain(`team/app:1.0@${digests.app}`)
    expect(statSync(file).mode & 0o777).to.equal(0o640)
    expect(statSync(backupDir).mode & 0o777).to.equal(0o700)
    const index = readFileSync(path.join(backupDir, 'index.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(index).to.have.length(1)
    expect(index[0].file).to.equal(file)
    expect(readFileSync(index[0].backup, 'utf8')).to.equal(original)
    expect(statSync(index[0].backup).mode & 0o777).to.equal(0o600)
    expect(readdirSync(dir).filter((name) => name.startsWith('.'))).to.deep.equal([])

    const pinned = readFileSync(file, 'utf8')
    const second = await runCli(args)
    expect(second.code, second.stderr).to.equal(0)
    expect(second.stderr).to.not.contain('pinned')
    expect(readFileSync(file, 'utf8')).to.equal(pinned)
    expect(readFileSync(path.join(backupDir, 'index.jsonl'), 'utf8').trim().split('\n')).to.have.length(1)
  })

  it("in a cluster, asks the registry with the credentials of the pod's pull secret", async () => {
    const api = await FakeKubeApiServer.start({namespaces: ['shop']})
    try {
      const kubeconfig = await api.writeKubeconfig(path.join(dir, 'cluster-kubeconfig'), {namespace: 'shop'})
      const dockerconfigjson = Buffer.from(
        JSON.stringify({
          auths: {
            [registry.host]: {
              username: USER,
              password: PASSWORD,
              auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
            },
          },
        }),
      ).toString('base64')
      api.seed({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {name: 'regcred', namespace: 'shop'},
        type: 'kubernetes.io/dockerconfigjson',
        data: {'.dockerconfigjson': dockerconfigjson},
      })
      api.seed({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {name: 'app', namespace: 'shop'},
        spec: {
          imagePullSecrets: [{name: 'regcred'}],
          containers: [{name: 'app', image: `${registry.host}/team/app:1.0`}],
        },
      })
      const result = await runCli(['audit', 'images', '--resolve-digests', '-o', 'json', '--fail-on', 'none'], {
        env: {KUBECONFIG: kubeconfig},
      })
      expect(result.code, result.stderr).to.equal(0)
      const finding = JSON.parse(result.stdout).findings.find(
        (f: {check: string}) => f.check === 'image-digest-missing',
      )
      expect(finding.message).to.contain(`the tag now points to ${digests.app}`)
      expect(result.stdout + result.stderr).to.not.contain(PASSWORD)
      // The pods are listed twice (the distinct images first, asked about, then the pods checked); once without.
      const podLists = () => api.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/pods')).length
      expect(podLists()).to.equal(2)
      const plain = await runCli(['audit', 'images', '-o', 'json', '--fail-on', 'none'], {
        env: {KUBECONFIG: kubeconfig},
      })
      expect(plain.code, plain.stderr).to.equal(0)
      expect(podLists()).to.equal(3)
    } finally {
      await api.stop()
    }
  })

  it('--fix needs files', async () => {
    const result = await runCli(['audit', 'images', '--fix'])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.equal('error: --fix edits manifest files: pass them with -f FILE|DIR\n')
  })
})

import {expect} from 'chai'
import {existsSync, mkdtempSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {CLI, runCli, runProgram} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'
import {
  buildTestImage,
  DEBIAN_LIKE,
  DISTROLESS_LIKE,
  layerOf,
  pushTestImage,
  pushTestIndex,
} from '../support/test-images.js'

const USER = 'inspector'
const PASSWORD = 'Insp3ct-Canary-Pa55'
const SECRET_VALUE = 'canary-aws-secret-wJalrXUtnFEMI'

interface JsonFinding {
  check: string
  severity: string
  container: string
  message: string
  line?: number
}

describe('audit images --inspect -f (built CLI, real registry)', () => {
  let registry: RunningRegistry
  let dir: string
  let dockerConfig: string
  let host: string
  before(async function () {
    requireRegistry(this, '--inspect tests')
    registry = await startRegistry({users: {[USER]: PASSWORD}})
    host = registry.host
    const credentials = {username: USER, password: PASSWORD}
    const debian = await layerOf(DEBIAN_LIKE)
    const distroless = await layerOf(DISTROLESS_LIKE)
    await pushTestImage(
      registry,
      'team/debian',
      '12',
      buildTestImage({layers: [debian], created: new Date().toISOString()}),
      credentials,
    )
    await pushTestImage(
      registry,
      'team/distroless',
      '1',
      buildTestImage({layers: [distroless], user: '65532', created: new Date().toISOString()}),
      credentials,
    )
    await pushTestImage(
      registry,
      'team/old',
      '2019',
      buildTestImage({layers: [distroless], user: '1000', created: '2019-03-01T12:00:00Z'}),
      credentials,
    )
    await pushTestImage(
      registry,
      'team/leaky',
      '1',
      buildTestImage({
        layers: [distroless],
        user: '1000',
        env: [`AWS_SECRET_ACCESS_KEY=${SECRET_VALUE}`],
        created: new Date().toISOString(),
      }),
      credentials,
    )
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-inspect-'))
    dockerConfig = path.join(dir, 'config.json')
    writeFileSync(
      dockerConfig,
      JSON.stringify({auths: {[host]: {auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}}}),
    )
  })
  after(async () => {
    await registry?.stop()
  })

  function deployment(name: string, image: string, securityContext = ''): string {
    return [
      'apiVersion: apps/v1',
      'kind: Deployment',
      `metadata: {name: ${name}, namespace: shop}`,
      'spec:',
      '  template:',
      '    spec:',
      '      containers:',
      `      - name: ${name}`,
      `        image: ${image}`,
      ...(securityContext ? [`        securityContext: ${securityContext}`] : []),
      '',
    ].join('\n')
  }

  async function audit(yaml: string, ...extra: string[]) {
    const file = path.join(dir, `${Math.random().toString(36).slice(2)}.yaml`)
    writeFileSync(file, yaml)
    const result = await runCli([
      'audit',
      'images',
      '-f',
      file,
      '--inspect',
      '--docker-config',
      dockerConfig,
      '-o',
      'json',
      '--fail-on',
      'none',
      ...extra,
    ])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout + result.stderr)
      .to.not.contain(PASSWORD)
      .and.not.contain(SECRET_VALUE)
    return {
      ...(JSON.parse(result.stdout) as {findings: JsonFinding[]; images: Array<Record<string, unknown>>}),
      stderr: result.stderr,
    }
  }

  const INSPECT_CHECKS = [
    'image-runs-as-root',
    'image-has-shell',
    'image-has-package-manager',
    'image-has-network-tools',
    'image-stale',
    'image-secret-in-config',
    'image-setuid-files',
  ]
  const byCheck = (findings: JsonFinding[]) => findings.filter((f) => INSPECT_CHECKS.includes(f.check))

  it('a Debian-like image: runs as root, shell, package manager, network tools, setuid file, with paths', async () => {
    const image = `${host}/team/debian:12`
    const {findings, images} = await audit(deployment('web', image))
    expect(byCheck(findings).map((f) => [f.check, f.severity, f.message, f.line])).to.deep.equal([
      [
        'image-runs-as-root',
        'high',
        `image ${image} sets no USER and container "web" sets no non-zero runAsUser, so it runs as root`,
        9,
      ],
      ['image-has-shell', 'medium', `image ${image} has a shell: /bin/bash, /bin/sh`, 9],
      [
        'image-has-package-manager',
        'medium',
        `image ${image} has a package manager: /usr/bin/apt, /usr/bin/apt-get, /usr/bin/dpkg`,
        9,
      ],
      ['image-has-network-tools', 'low', `image ${image} has network tools: /usr/bin/curl`, 9],
      ['image-setuid-files', 'info', `image ${image} has setuid/setgid files: /usr/bin/passwd (4755)`, 9],
    ])
    expect(images).to.have.length(1)
    expect(images[0]).to.include({image, user: '', layers: 1})
    expect(images[0].compressedSize).to.be.a('number').and.be.greaterThan(100)
  })

  it('info (image-setuid-files) fails a run only with --fail-on info; the summary counts it', async () => {
    const file = path.join(dir, 'setuid-only.yaml')
    writeFileSync(file, deployment('web', `${host}/team/debian:12`))
    const {CHECKS} = await import('../../src/lib/audit/checks/index.js')
    const others = CHECKS.map((check) => check.id).filter((id) => id !== 'image-setuid-files')
    const run = (failOn: string) =>
      runCli([
        'audit',
        'images',
        '-f',
        file,
        '--inspect',
        '--docker-config',
        dockerConfig,
        '--ignore-check',
        others.join(','),
        '-o',
        'json',
        '--fail-on',
        failOn,
      ])
    const low = await run('low')
    expect(low.code, low.stderr).to.equal(0)
    expect(JSON.parse(low.stdout).summary).to.include({info: 1, low: 0, total: 1})
    expect((await run('info')).code).to.equal(3)
  })

  it('a non-zero runAsUser in the pod answers image-runs-as-root', async () => {
    const {findings} = await audit(deployment('web', `${host}/team/debian:12`, '{runAsUser: 1000, runAsNonRoot: true}'))
    expect(findings.map((f) => f.check)).to.not.include('image-runs-as-root')
  })

  it('a distroless-like image with a non-root user: no image finding; run-as-root says what the image sets', async () => {
    const {findings} = await audit(deployment('api', `${host}/team/distroless:1`))
    expect(byCheck(findings)).to.deep.equal([])
    expect(findings.find((f) => f.check === 'run-as-root')?.message).to.equal(
      'container "api" does not set runAsNonRoot: true, so it runs as root if the image says so; the image sets USER "65532" (not root), so it does not today',
    )
  })

  it('an old image is stale; the policy sets the limit', async () => {
    const image = `${host}/team/old:2019`
    const {findings} = await audit(deployment('old', image))
    const stale = findings.filter((f) => f.check === 'image-stale')
    expect(stale).to.have.length(1)
    expect(stale[0].message).to.match(
      new RegExp(
        `^image ${image.replace(/[.]/g, '\\.')} was built \\d+ days ago \\(created 2019-03-01T12:00:00Z\\), more than maxImageAgeDays \\(365\\)$`,
      ),
    )
    const policy = path.join(dir, 'policy.yaml')
    writeFileSync(policy, 'maxImageAgeDays: 100000\n')
    const relaxed = await audit(deployment('old', image), '--policy', policy)
    expect(relaxed.findings.map((f) => f.check)).to.not.include('image-stale')
  })

  it('a credential in ENV is named, its value never shown', async () => {
    const {findings} = await audit(deployment('leaky', `${host}/team/leaky:1`))
    expect(findings.filter((f) => f.check === 'image-secret-in-config').map((f) => f.message)).to.deep.equal([
      `image ${host}/team/leaky:1 has ENV AWS_SECRET_ACCESS_KEY: its name looks like a credential (the value is not shown)`,
    ])
  })

  it('without credentials: a warning naming the refusal, the other checks still run', async () => {
    const file = path.join(dir, 'nocreds.yaml')
    writeFileSync(file, deployment('web', `${host}/team/debian:12`))
    const result = await runCli(['audit', 'images', '-f', file, '--inspect', '-o', 'json', '--fail-on', 'none'])
    expect(result.code).to.equal(0)
    expect(result.stderr).to.contain(
      `warning: --inspect: cannot read ${host}/team/debian: the registry refused anonymous access (HTTP 401); give credentials with --docker-config or a pull secret`,
    )
    expect(JSON.parse(result.stdout).findings.map((f: JsonFinding) => f.check)).to.include('run-as-root')
  })

  it('caches layer results by digest: a second run reads no layer, --no-cache reads it again', async () => {
    const cache = mkdtempSync(path.join(tmpdir(), 'imgsec-cache-'))
    const file = path.join(dir, 'cache.yaml')
    writeFileSync(file, deployment('web', `${host}/team/debian:12`))
    const layerGets = () => (registry.logs().match(/GET \/v2\/team\/debian\/blobs\/sha256:[a-f0-9]{64}/g) ?? []).length
    const run = (...extra: string[]) =>
      runCli(
        ['audit', 'images', '-f', file, '--inspect', '--docker-config', dockerConfig, '--fail-on', 'none', ...extra],
        {
          env: {XDG_CACHE_HOME: cache},
        },
      )
    const before = layerGets()
    const first = await run()
    expect(first.code, first.stderr).to.equal(0)
    const afterFirst = layerGets()
    // The config and the one layer.
    expect(afterFirst - before).to.equal(2)
    const cached = readdirSync(path.join(cache, 'kubectl-imgsec', 'layers'))
    expect(cached).to.have.length(1)
    expect(statSync(path.join(cache, 'kubectl-imgsec', 'layers', cached[0])).mode & 0o777).to.equal(0o600)
    const second = await run()
    expect(second.stdout).to.equal(first.stdout)
    expect(layerGets() - afterFirst).to.equal(1) // the config only
    const third = await run('--no-cache')
    expect(third.stdout).to.equal(first.stdout)
    expect(layerGets() - afterFirst).to.equal(3)
    const refused = await runCli(['audit', 'images', '-f', file, '--no-cache'])
    expect(refused.stderr).to.contain('error: --no-cache applies only with --inspect')
  })

  it('shows a progress line on a terminal only, and clears it', async function () {
    if (!existsSync('/usr/bin/script')) this.skip()
    const file = path.join(dir, 'progress.yaml')
    writeFileSync(
      file,
      deployment('a', `${host}/team/debian:12`) + '---\n' + deployment('b', `${host}/team/distroless:1`),
    )
    const args = [
      'audit',
      'images',
      '-f',
      file,
      '--inspect',
      '--docker-config',
      dockerConfig,
      '--fail-on',
      'none',
      '-o',
      'json',
    ]
    // util-linux script(1) gives the CLI a real pseudo-terminal; its output is the terminal's.
    const command = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ')
    const tty = await runProgram('/usr/bin/script', ['-qec', command, '/dev/null'], {
      env: {HOME: dir, PATH: process.env.PATH ?? ''},
    })
    const ERASE = '\u001B[K'
    expect(tty.stdout.split(ERASE)[0]).to.match(/\rinspecting images: 1\/2, \d+\.\d MiB of layers read$/)
    expect(tty.stdout).to.contain('\r\u001B[K')
    const piped = await runCli(args)
    expect(piped.stderr).to.not.contain('inspecting images')
  })

  it('--platform needs --inspect and a valid OS/ARCH', async () => {
    const file = path.join(dir, 'p.yaml')
    writeFileSync(file, deployment('web', `${host}/team/debian:12`))
    const without = await runCli(['audit', 'images', '-f', file, '--platform', 'linux/arm64'])
    expect(without.code).to.equal(1)
    expect(without.stderr).to.contain('error: --platform applies only with --inspect')
    const bad = await runCli(['audit', 'images', '-f', file, '--inspect', '--platform', 'arm64'])
    expect(bad.code).to.equal(1)
    expect(bad.stderr).to.contain(
      'error: --platform "arm64": expected OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64 or linux/arm64/v8',
    )
  })
})

describe('audit images --inspect in a cluster (built CLI, fake API server, real registry)', () => {
  let registry: RunningRegistry
  let api: FakeKubeApiServer
  let kubeconfig: string
  let host: string
  before(async function () {
    requireRegistry(this, 'the audit-images-inspect e2e tests')
    registry = await startRegistry({users: {[USER]: PASSWORD}})
    host = registry.host
    const credentials = {username: USER, password: PASSWORD}
    await pushTestIndex(
      registry,
      'team/multi',
      '1',
      [
        {
          layers: [await layerOf(DISTROLESS_LIKE)],
          user: '65532',
          architecture: 'amd64',
          created: new Date().toISOString(),
        },
        {
          layers: [await layerOf(DEBIAN_LIKE)],
          user: '65532',
          architecture: 'arm64',
          variant: 'v8',
          created: new Date().toISOString(),
        },
      ],
      credentials,
    )
    api = await FakeKubeApiServer.start({namespaces: ['shop']})
    kubeconfig = await api.writeKubeconfig(
      path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-inspect-c-')), 'kubeconfig'),
      {
        namespace: 'shop',
      },
    )
    for (const [name, arch] of [
      ['node-a', 'arm64'],
      ['node-b', 'arm64'],
    ])
      api.seed({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {name, labels: {'kubernetes.io/os': 'linux', 'kubernetes.io/arch': arch}},
      })
    api.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {name: 'regcred', namespace: 'shop'},
      type: 'kubernetes.io/dockerconfigjson',
      data: {
        '.dockerconfigjson': Buffer.from(
          JSON.stringify({auths: {[host]: {auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}}}),
        ).toString('base64'),
      },
    })
    const pod = (name: string, pullSecrets: string[]) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name, namespace: 'shop', labels: {app: name}},
      spec: {
        containers: [{name: 'main', image: `${host}/team/multi:1`}],
        ...(pullSecrets.length ? {imagePullSecrets: pullSecrets.map((n) => ({name: n}))} : {}),
      },
    })
    api.seed(pod('with-secret', ['regcred']))
  })
  after(async () => {
    await Promise.all([registry?.stop(), api?.stop()])
  })

  it("reads the image with the pod's pull secret, for the nodes' platform (linux/arm64 of the index)", async () => {
    const result = await runCli(['audit', 'images', '--inspect', '-o', 'json', '--fail-on', 'none'], {
      env: {KUBECONFIG: kubeconfig},
    })
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout + result.stderr).to.not.contain(PASSWORD)
    const doc = JSON.parse(result.stdout) as {findings: JsonFinding[]; images: Array<Record<string, unknown>>}
    expect(doc.images.map((i) => [i.image, i.platform, i.user])).to.deep.equal([
      [`${host}/team/multi:1`, 'linux/arm64/v8', '65532'],
    ])
    expect(doc.findings.filter((f) => f.check === 'image-has-shell').map((f) => f.message)).to.deep.equal([
      `image ${host}/team/multi:1 has a shell: /bin/bash, /bin/sh`,
    ])
    const amd = await runCli(
      ['audit', 'images', '--inspect', '--platform', 'linux/amd64', '-o', 'json', '--fail-on', 'none'],
      {
        env: {KUBECONFIG: kubeconfig},
      },
    )
    const amdDoc = JSON.parse(amd.stdout) as {findings: JsonFinding[]; images: Array<Record<string, unknown>>}
    expect(amdDoc.images.map((i) => i.platform)).to.deep.equal(['linux/amd64'])
    expect(amdDoc.findings.map((f) => f.check)).to.not.include('image-has-shell')
  })
})

import {expect} from 'chai'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import {createServer, type Server} from 'node:https'
import type {AddressInfo} from 'node:net'
import {hostname, tmpdir} from 'node:os'
import path from 'node:path'

import {ROOT, runCli, runCliAsNobody} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {createTestCa, type TestCa} from '../support/tls.js'

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml')
const ORIGINAL = readFileSync(FIXTURE, 'utf8')

interface ControlPlane {
  dir: string
  manifest: string
  backupDir: string
  configDir: string
  admissionConfig: string
  webhookKubeconfig: string
  base: string[]
}

describe('patch-apiserver (built CLI)', () => {
  let ca: TestCa
  let backend: Server
  let backendPort: number
  let wrongNameCert: {certFile: string; keyFile: string}
  before(async () => {
    ca = await createTestCa()
    const serving = await ca.issue({cn: 'imgsec-webhook', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost']})
    wrongNameCert = await ca.issue({cn: 'other', dnsNames: ['other.example.com']})
    backend = createServer({cert: serving.certPem, key: serving.keyPem}, (_req, res) => res.end('{}'))
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
    backendPort = (backend.address() as AddressInfo).port
  })
  after(() => backend?.close())

  async function controlPlane(
    options: {imagePolicy?: Record<string, unknown>; server?: string; kubeconfigExtra?: string} = {},
  ): Promise<ControlPlane> {
    const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-cp-'))
    const manifests = path.join(dir, 'manifests')
    const configDir = path.join(dir, 'imgsec')
    mkdirSync(manifests)
    mkdirSync(configDir)
    const manifest = path.join(manifests, 'kube-apiserver.yaml')
    copyFileSync(FIXTURE, manifest)
    chmodSync(manifest, 0o600)
    const client = await ca.issue({cn: 'kube-apiserver'})
    const webhookKubeconfig = path.join(configDir, 'webhook.kubeconfig')
    writeFileSync(
      webhookKubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: backend, cluster: {certificate-authority: ${ca.caCertFile}, server: "${options.server ?? `https://127.0.0.1:${backendPort}/image_policy`}"}}]`,
        `users: [{name: apiserver, user: {client-certificate: ${client.certFile}, client-key: ${client.keyFile}}}]`,
        options.kubeconfigExtra ??
          'contexts: [{name: image-policy, context: {cluster: backend, user: apiserver}}]\ncurrent-context: image-policy',
        '',
      ].join('\n'),
    )
    const imagePolicy = {
      kubeConfigFile: webhookKubeconfig,
      allowTTL: 50,
      denyTTL: 50,
      retryBackoff: 500,
      defaultAllow: false,
      ...options.imagePolicy,
    }
    const admissionConfig = path.join(configDir, 'admission-configuration.yaml')
    writeFileSync(
      admissionConfig,
      `apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: ImagePolicyWebhook\n  configuration:\n    imagePolicy: ${JSON.stringify(imagePolicy)}\n`,
    )
    const backupDir = path.join(dir, 'backups')
    return {
      dir,
      manifest,
      backupDir,
      configDir,
      admissionConfig,
      webhookKubeconfig,
      base: ['patch-apiserver', '--manifest', manifest, '--backup-dir', backupDir],
    }
  }
  const enable = (cp: ControlPlane) => [
    ...cp.base,
    '--enable-plugins',
    'ImagePolicyWebhook',
    '--admission-config',
    cp.admissionConfig,
  ]

  it('--dry-run prints a unified diff and writes nothing', async () => {
    const cp = await controlPlane()
    const mtime = statSync(cp.manifest).mtimeMs
    const result = await runCli([...enable(cp), '--dry-run'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(new RegExp(`^--- ${cp.manifest.replaceAll('.', '\\.')}\\n\\+\\+\\+ `))
    expect(result.stdout).to.contain(
      '-    - --enable-admission-plugins=NodeRestriction\n+    - --enable-admission-plugins=NodeRestriction,ImagePolicyWebhook\n',
    )
    expect(result.stdout).to.contain(`+    - --admission-control-config-file=${cp.admissionConfig}\n`)
    expect(readFileSync(cp.manifest, 'utf8')).to.equal(ORIGINAL)
    expect(statSync(cp.manifest).mtimeMs).to.equal(mtime)
    expect(existsSync(cp.backupDir)).to.equal(false)
  })

  it('patches, backs up outside the manifests dir, keeps the mode; the second run writes nothing', async () => {
    const cp = await controlPlane()
    const first = await runCli(enable(cp))
    expect(first.code, first.stderr).to.equal(0)
    expect(first.stdout).to.contain(`patched ${cp.manifest}:`)
    const patched = readFileSync(cp.manifest, 'utf8')
    expect(patched).to.contain('--enable-admission-plugins=NodeRestriction,ImagePolicyWebhook')
    expect(patched).to.contain(`- mountPath: ${cp.configDir}\n`)
    expect(statSync(cp.manifest).mode & 0o777).to.equal(0o600)
    expect(readdirSync(path.dirname(cp.manifest))).to.deep.equal(['kube-apiserver.yaml'])
    expect(statSync(cp.backupDir).mode & 0o777).to.equal(0o700)
    const index = readFileSync(path.join(cp.backupDir, 'index.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(index).to.have.length(1)
    expect(readFileSync(index[0].backup, 'utf8')).to.equal(ORIGINAL)
    expect(statSync(index[0].backup).mode & 0o777).to.equal(0o600)
    expect(index[0].command).to.contain('patch-apiserver')

    const second = await runCli(enable(cp))
    expect(second.code).to.equal(0)
    expect(second.stdout).to.equal(`${cp.manifest} already configured: nothing written\n`)
    expect(readFileSync(cp.manifest, 'utf8')).to.equal(patched)
    expect(readFileSync(path.join(cp.backupDir, 'index.jsonl'), 'utf8').trim().split('\n')).to.have.length(1)
  })

  it('--restore puts the original bytes back (backing up the current file); --list-backups -o json lists them', async () => {
    const cp = await controlPlane()
    await runCli(enable(cp))
    const restore = await runCli([...cp.base, '--restore'])
    expect(restore.code, restore.stderr).to.equal(0)
    expect(readFileSync(cp.manifest, 'utf8')).to.equal(ORIGINAL)
    const listed = JSON.parse((await runCli([...cp.base, '--list-backups', '-o', 'json'])).stdout)
    expect(listed).to.have.length(2)
    expect(readFileSync(listed[1].backup, 'utf8')).to.contain('ImagePolicyWebhook')
    const again = await runCli([...cp.base, `--restore=${path.basename(listed[1].backup)}`])
    expect(again.code, again.stderr).to.equal(0)
    expect(readFileSync(cp.manifest, 'utf8')).to.equal(readFileSync(listed[1].backup, 'utf8'))
  })

  it('--restore run twice leaves the good manifest (the copy a restore makes is never "the newest"); --list-backups still shows every backup', async () => {
    const cp = await controlPlane()
    await runCli(enable(cp))
    const broken = readFileSync(cp.manifest, 'utf8')
    const first = await runCli([...cp.base, '--restore'])
    expect(first.code, first.stderr).to.equal(0)
    expect(readFileSync(cp.manifest, 'utf8')).to.equal(ORIGINAL)
    const second = await runCli([...cp.base, '--restore'])
    expect(second.code, second.stderr).to.equal(0)
    expect(readFileSync(cp.manifest, 'utf8')).to.equal(ORIGINAL)
    expect(second.stdout).to.match(/already has the content of .*: nothing written\n$/)

    const listed = JSON.parse((await runCli([...cp.base, '--list-backups', '-o', 'json'])).stdout) as Array<{
      backup: string
      reason?: string
    }>
    expect(listed).to.have.length(2)
    expect(readFileSync(listed[0].backup, 'utf8')).to.equal(ORIGINAL)
    expect(listed[0].reason).to.equal(undefined)
    expect(readFileSync(listed[1].backup, 'utf8')).to.equal(broken)
    expect(listed[1].reason).to.equal('restore')
    const table = await runCli([...cp.base, '--list-backups'])
    expect(table.stdout.trim().split('\n')).to.have.length(2)
    expect(table.stdout.trim().split('\n')[1]).to.contain(listed[1].backup).and.to.contain('replaced by a restore')

    // Undoing the restore by name, then a bare --restore: the good manifest again, and it stays.
    expect((await runCli([...cp.base, `--restore=${path.basename(listed[1].backup)}`])).code).to.equal(0)
    expect(readFileSync(cp.manifest, 'utf8')).to.equal(broken)
    for (let run = 0; run < 2; run++) {
      const result = await runCli([...cp.base, '--restore'])
      expect(result.code, result.stderr).to.equal(0)
      expect(readFileSync(cp.manifest, 'utf8')).to.equal(ORIGINAL)
    }
    expect(JSON.parse((await runCli([...cp.base, '--list-backups', '-o', 'json'])).stdout)).to.have.length(4)

    // An index written before copies were marked: the command that made the copy tells.
    const index = path.join(cp.backupDir, 'index.jsonl')
    writeFileSync(index, readFileSync(index, 'utf8').replaceAll(',"reason":"restore"', ''))
    writeFileSync(cp.manifest, broken)
    for (let run = 0; run < 2; run++) {
      const result = await runCli([...cp.base, '--restore'])
      expect(result.code, result.stderr).to.equal(0)
      expect(readFileSync(cp.manifest, 'utf8')).to.equal(ORIGINAL)
    }
  })

  it('merges into an existing --admission-control-config-file instead of replacing it', async () => {
    const cp = await controlPlane()
    const existing = path.join(cp.dir, 'pki-admission.yaml')
    const existingText =
      '# cluster admission config\napiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: EventRateLimit\n  path: eventconfig.yaml\n'
    writeFileSync(existing, existingText)
    writeFileSync(
      path.join(cp.dir, 'eventconfig.yaml'),
      'apiVersion: eventratelimit.admission.k8s.io/v1alpha1\nkind: Configuration\nlimits: [{type: Server, qps: 50, burst: 100}]\n',
    )
    writeFileSync(
      cp.manifest,
      ORIGINAL.replace(
        '    - --enable-admission-plugins=NodeRestriction',
        `    - --admission-control-config-file=${existing}\n    - --enable-admission-plugins=NodeRestriction,EventRateLimit`,
      ),
    )
    const result = await runCli(enable(cp))
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.contain(`merge the ImagePolicyWebhook entry into ${existing}`)
    const merged = readFileSync(existing, 'utf8')
    expect(merged).to.contain('# cluster admission config')
    expect(merged).to.contain('- name: EventRateLimit\n  path: eventconfig.yaml\n')
    expect(merged).to.contain('- name: ImagePolicyWebhook')
    const manifest = readFileSync(cp.manifest, 'utf8')
    expect(manifest).to.contain(`--admission-control-config-file=${existing}`)
    expect(manifest).to.contain('--enable-admission-plugins=NodeRestriction,EventRateLimit,ImagePolicyWebhook')
    const backups = readFileSync(path.join(cp.backupDir, 'index.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(backups.map((b: {file: string}) => b.file)).to.deep.equal([existing, cp.manifest])
    expect(readFileSync(backups[0].backup, 'utf8')).to.equal(existingText)
  })

  describe('preflight: refuses what the API server would reject, writes nothing', () => {
    const cases: Array<{title: string; setup: Parameters<typeof controlPlane>[0]; error: RegExp}> = [
      {
        title: 'allowTTL out of range',
        setup: {imagePolicy: {allowTTL: -2}},
        error:
          /imagePolicy\.allowTTL must be an integer number of seconds in 1–1800 \(0: the plugin's default, -1: disabled\), not -2/,
      },
      {
        title: 'retryBackoff too large',
        setup: {imagePolicy: {retryBackoff: 300001}},
        error: /imagePolicy\.retryBackoff must be an integer number of milliseconds in 1–300000/,
      },
      {
        title: 'defaultAllow not a boolean',
        setup: {imagePolicy: {defaultAllow: 'no'}},
        error: /imagePolicy\.defaultAllow must be true or false, not a string/,
      },
      {
        title: 'relative kubeConfigFile',
        setup: {imagePolicy: {kubeConfigFile: 'webhook.kubeconfig'}},
        error: /kubeConfigFile "webhook\.kubeconfig" must be an absolute path/,
      },
      {
        title: 'webhook kubeconfig without contexts',
        setup: {kubeconfigExtra: ''},
        error: /no contexts .*; no current-context/,
      },
      {
        title: 'serving certificate does not cover the server host',
        setup: {server: 'https://localhost:PORT/image_policy'},
        error: /does not cover localhost/,
      },
    ]
    for (const {title, setup, error} of cases) {
      it(title, async () => {
        const cp = await controlPlane(setup)
        if (setup?.server) {
          // A backend whose certificate names another host.
          const other = createServer({
            cert: readFileSync(wrongNameCert.certFile),
            key: readFileSync(wrongNameCert.keyFile),
          })
          await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
          const port = (other.address() as AddressInfo).port
          writeFileSync(cp.webhookKubeconfig, readFileSync(cp.webhookKubeconfig, 'utf8').replace('PORT', String(port)))
          try {
            const result = await runCli(enable(cp))
            expect(result.code).to.equal(1)
            expect(result.stderr).to.match(error)
            const forced = await runCli([...enable(cp), '--force'])
            expect(forced.code, forced.stderr).to.equal(0)
            expect(forced.stderr).to.contain('warning: forced despite:')
          } finally {
            other.close()
          }
          return
        }
        const result = await runCli(enable(cp))
        expect(result.code).to.equal(1)
        expect(result.stderr).to.match(/^error: /)
        expect(result.stderr).to.match(error)
        expect(readFileSync(cp.manifest, 'utf8')).to.equal(ORIGINAL)
        expect(existsSync(cp.backupDir)).to.equal(false)
      })
    }

    it('ImagePolicyWebhook without an admission configuration', async () => {
      const cp = await controlPlane()
      const result = await runCli([...cp.base, '--enable-plugins', 'ImagePolicyWebhook'])
      expect(result.code).to.equal(1)
      expect(result.stderr).to.contain(
        'ImagePolicyWebhook needs an admission configuration: pass --admission-config FILE',
      )
    })

    it('a plugin in both --enable-plugins and --disable-plugins', async () => {
      const cp = await controlPlane()
      const result = await runCli([
        ...cp.base,
        '--enable-plugins',
        'AlwaysPullImages',
        '--disable-plugins',
        'AlwaysPullImages',
      ])
      expect(result.stderr).to.equal('error: AlwaysPullImages is in both --enable-plugins and --disable-plugins\n')
    })
  })

  describe('bad input: clear error, exit 1, file untouched', () => {
    const cases: Array<{title: string; content?: string; args?: (cp: ControlPlane) => string[]; error: RegExp}> = [
      {
        title: 'missing manifest',
        args: (cp) => [
          'patch-apiserver',
          '--manifest',
          path.join(cp.dir, 'manifests', 'nope.yaml'),
          '--backup-dir',
          cp.backupDir,
          '--enable-plugins',
          'AlwaysPullImages',
        ],
        error: /manifest .*nope\.yaml does not exist/,
      },
      {
        title: 'not a Pod',
        content: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n',
        error: /is not a Pod manifest \(kind: Deployment\)/,
      },
      {
        title: 'unparseable YAML',
        content: 'apiVersion: v1\nkind: Pod\nspec: [\n',
        error: /is not valid YAML \(line \d+, column \d+: [a-z]/,
      },
      {
        title: 'no kube-apiserver container',
        content: 'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: etcd\n    command: [etcd]\n',
        error: /has no kube-apiserver container/,
      },
      {
        title: 'backup dir inside the manifests dir',
        args: (cp) => [
          'patch-apiserver',
          '--manifest',
          cp.manifest,
          '--backup-dir',
          path.join(path.dirname(cp.manifest), 'backups'),
          '--enable-plugins',
          'AlwaysPullImages',
        ],
        error: /--backup-dir .* is inside .*manifests: the kubelet would run a backed-up kube-apiserver\.yaml/,
      },
      {
        title: 'malformed --set-flag',
        args: (cp) => [...cp.base, '--set-flag', 'no-equals-sign'],
        error: /--set-flag "no-equals-sign": expected name=value/,
      },
    ]
    for (const {title, content, args, error} of cases) {
      it(title, async () => {
        const cp = await controlPlane()
        if (content !== undefined) writeFileSync(cp.manifest, content)
        const before = readFileSync(cp.manifest, 'utf8')
        const result = await runCli(args ? args(cp) : [...cp.base, '--enable-plugins', 'AlwaysPullImages'])
        expect(result.code).to.equal(1)
        expect(result.stderr).to.match(/^error: /)
        expect(result.stderr).to.match(error)
        expect(result.stderr).to.not.match(/\n\s+at /)
        expect(readFileSync(cp.manifest, 'utf8')).to.equal(before)
        expect(readdirSync(path.dirname(cp.manifest))).to.deep.equal(['kube-apiserver.yaml'])
      })
    }
  })

  it('--dry-run needs no write permission: a normal user sees the diff', async function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv')) this.skip()
    const cp = await controlPlane()
    chmodSync(cp.dir, 0o755)
    chmodSync(path.dirname(cp.manifest), 0o755)
    chmodSync(cp.manifest, 0o644)
    const result = await runCliAsNobody([
      'patch-apiserver',
      '--manifest',
      cp.manifest,
      '--backup-dir',
      path.join(tmpdir(), 'imgsec-nobody-backups'),
      '--enable-plugins',
      'AlwaysPullImages',
      '--dry-run',
    ])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.include('+    - --enable-admission-plugins=NodeRestriction,AlwaysPullImages')
    expect(readFileSync(cp.manifest, 'utf8')).to.equal(ORIGINAL)
  })

  describe('one action per run, and a run that asks for nothing is a mistake', () => {
    for (const [args, message] of [
      [
        [],
        'error: nothing to do: give --enable-plugins, --disable-plugins, --admission-config, --set-flag or --remove-flag (or --restore, --list-backups)\n',
      ],
      [
        ['--restore', '--enable-plugins', 'AlwaysPullImages'],
        'error: --restore cannot be combined with --enable-plugins: run them one after the other\n',
      ],
      [
        ['--list-backups', '--wait'],
        'error: --list-backups cannot be combined with --wait: run them one after the other\n',
      ],
      [
        ['--restore', 'x', '--dry-run'],
        'error: --restore cannot be combined with --dry-run: run them one after the other\n',
      ],
    ] as Array<[string[], string]>) {
      it(`patch-apiserver ${args.join(' ') || '(no action)'}`, async () => {
        const cp = await controlPlane()
        const result = await runCli([
          'patch-apiserver',
          '--manifest',
          cp.manifest,
          '--backup-dir',
          path.join(cp.dir, 'backups'),
          ...args,
        ])
        expect(result.code).to.equal(1)
        expect(result.stderr).to.equal(message)
        expect(readFileSync(cp.manifest, 'utf8')).to.equal(ORIGINAL)
      })
    }
  })

  it('taking NodeRestriction out is done, with a warning saying what it protects', async () => {
    const cp = await controlPlane()
    const result = await runCli([
      'patch-apiserver',
      '--manifest',
      cp.manifest,
      '--backup-dir',
      path.join(cp.dir, 'backups'),
      '--disable-plugins',
      'NodeRestriction',
      '--dry-run',
    ])
    expect(result.code).to.equal(0)
    expect(result.stderr).to.equal(
      'warning: NodeRestriction is no longer enabled: every kubelet could then modify any Node object and the pods bound to other nodes (kubeadm enables it, and the CIS Kubernetes Benchmark asks for it)\n',
    )
  })

  it('no write permission: a plain message, nothing changed', async function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv')) this.skip()
    const cp = await controlPlane()
    chmodSync(cp.dir, 0o755)
    chmodSync(path.dirname(cp.manifest), 0o755)
    chmodSync(cp.manifest, 0o644)
    const result = await runCliAsNobody([
      'patch-apiserver',
      '--manifest',
      cp.manifest,
      '--backup-dir',
      path.join(tmpdir(), 'imgsec-nobody-backups'),
      '--enable-plugins',
      'AlwaysPullImages',
    ])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.equal(
      `error: cannot write ${cp.manifest} (permission denied): run this on the control-plane node as root (sudo), nothing was changed\n`,
    )
    expect(readFileSync(cp.manifest, 'utf8')).to.equal(ORIGINAL)
  })

  describe('a write killed at any step leaves the old or the new bytes, and no file the kubelet would run', () => {
    let expected: string
    before(async () => {
      const reference = await controlPlane()
      await runCli([
        'patch-apiserver',
        '--manifest',
        reference.manifest,
        '--backup-dir',
        reference.backupDir,
        '--enable-plugins',
        'AlwaysPullImages',
        '--set-flag',
        'profiling=false',
      ])
      expected = readFileSync(reference.manifest, 'utf8')
      expect(expected).to.not.equal(ORIGINAL)
    })
    for (const step of [
      'atomic-write:opened',
      'atomic-write:half-written',
      'atomic-write:synced',
      'atomic-write:before-rename',
      'atomic-write:renamed',
    ]) {
      it(step, async () => {
        const cp = await controlPlane()
        const args = [
          'patch-apiserver',
          '--manifest',
          cp.manifest,
          '--backup-dir',
          cp.backupDir,
          '--enable-plugins',
          'AlwaysPullImages',
          '--set-flag',
          'profiling=false',
        ]
        const killed = await runCli(args, {env: {IMGSEC_TEST_CRASH_AT: step}})
        expect(killed.code, `exit of the killed run: ${killed.stderr}`).to.not.equal(0)
        const content = readFileSync(cp.manifest, 'utf8')
        expect([ORIGINAL, expected]).to.include(content)
        expect(content).to.equal(step === 'atomic-write:renamed' ? expected : ORIGINAL)
        const visible = readdirSync(path.dirname(cp.manifest)).filter((name) => !name.startsWith('.'))
        expect(visible).to.deep.equal(['kube-apiserver.yaml'])
        // The next run finishes the job and clears the temporary dot-file a kill left behind.
        const rerun = await runCli(args)
        expect(rerun.code, rerun.stderr).to.equal(0)
        expect(readFileSync(cp.manifest, 'utf8')).to.equal(expected)
        expect(readdirSync(path.dirname(cp.manifest))).to.deep.equal(['kube-apiserver.yaml'])
      })
    }
  })

  describe('with a cluster: --wait, --rollback-on-failure, --persist-kubeadm-config', () => {
    let api: FakeKubeApiServer
    let kubeconfig: string
    const mirrorPod = (hash: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `kube-apiserver-${hostname()}`,
        namespace: 'kube-system',
        labels: {component: 'kube-apiserver', tier: 'control-plane'},
        annotations: {'kubernetes.io/config.hash': hash, 'kubernetes.io/config.mirror': hash},
      },
      spec: {containers: [{name: 'kube-apiserver', image: 'registry.k8s.io/kube-apiserver:v1.32.0'}]},
    })
    beforeEach(async () => {
      api = await FakeKubeApiServer.start()
      kubeconfig = await api.writeKubeconfig(path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-kc-')), 'kubeconfig'))
      api.seed(mirrorPod('old-hash'))
    })
    afterEach(async () => {
      await api.stop()
    })
    const args = (cp: ControlPlane) => [...cp.base, '--enable-plugins', 'AlwaysPullImages', '--kubeconfig', kubeconfig]

    it('--wait returns once the kubelet restarted kube-apiserver and /readyz answers', async () => {
      const cp = await controlPlane()
      const run = runCli([...args(cp), '--wait', '--timeout', '30s'])
      // Play the kubelet: notice the new manifest, restart the API server (unready for a moment), new hash.
      while (readFileSync(cp.manifest, 'utf8') === ORIGINAL) await new Promise((resolve) => setTimeout(resolve, 50))
      api.healthy = false
      await new Promise((resolve) => setTimeout(resolve, 500))
      api.seed(mirrorPod('new-hash'))
      await new Promise((resolve) => setTimeout(resolve, 500))
      api.healthy = true
      const result = await run
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.contain(`kube-apiserver is ready (${api.url}/readyz)`)
      expect(readFileSync(cp.manifest, 'utf8')).to.contain('AlwaysPullImages')
    })

    it('--rollback-on-failure restores the backup when the API server does not come back, and says so loudly', async () => {
      const cp = await controlPlane()
      const result = await runCli([...args(cp), '--wait', '--timeout', '3s', '--rollback-on-failure'])
      expect(result.code).to.equal(1)
      expect(result.stderr).to.match(
        /^error: ROLLED BACK: kube-apiserver did not come back within 3s \(the kubelet did not restart it; last: the mirror pod still has the old config hash\)/,
      )
      expect(readFileSync(cp.manifest, 'utf8')).to.equal(ORIGINAL)
      expect(readdirSync(path.dirname(cp.manifest))).to.deep.equal(['kube-apiserver.yaml'])
    })

    it('without --rollback-on-failure a failed wait leaves the change and says how to undo it', async () => {
      const cp = await controlPlane()
      api.seed(mirrorPod('old-hash'))
      const run = runCli([...args(cp), '--wait', '--timeout', '3s'])
      while (readFileSync(cp.manifest, 'utf8') === ORIGINAL) await new Promise((resolve) => setTimeout(resolve, 50))
      api.seed(mirrorPod('new-hash'))
      api.healthy = false
      const result = await run
      expect(result.code).to.equal(1)
      expect(result.stderr).to.contain(
        'last: /readyz did not answer ok). The change is still in place; undo it with: kubectl imgsec patch-apiserver',
      )
      expect(readFileSync(cp.manifest, 'utf8')).to.contain('AlwaysPullImages')
    })

    it('--persist-kubeadm-config records the flags and volumes in kubeadm-config', async () => {
      const cp = await controlPlane()
      api.seed({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {name: 'kubeadm-config', namespace: 'kube-system'},
        data: {
          ClusterConfiguration:
            'apiServer:\n  extraArgs:\n  - name: authorization-mode\n    value: Node,RBAC\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.32.0\n',
        },
      })
      const result = await runCli([...enable(cp), '--kubeconfig', kubeconfig, '--persist-kubeadm-config'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.contain('recorded in ConfigMap kube-system/kubeadm-config:')
      expect(result.stdout).to.not.contain('kubeadm upgrade" regenerates')
      const config = api.getObject('configmaps', 'kube-system', 'kubeadm-config')!.data.ClusterConfiguration as string
      expect(config).to.contain('- name: enable-admission-plugins\n    value: NodeRestriction,ImagePolicyWebhook')
      expect(config).to.contain(`- name: admission-control-config-file\n    value: ${cp.admissionConfig}`)
      expect(config).to.contain(`hostPath: ${cp.configDir}`)
      const again = await runCli([...enable(cp), '--kubeconfig', kubeconfig, '--persist-kubeadm-config'])
      expect(again.stdout).to.contain('already configured: nothing written')
    })
  })
})

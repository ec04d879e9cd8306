import {expect} from 'chai'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {ROOT, runCli} from '../support/cli.js'
import {installFakeTrivy, trivyReport} from '../support/fake-trivy.js'

const EXAMPLES = path.join(ROOT, 'examples')

describe('audit images -f (built CLI)', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-audit-'))
  })

  it('audits the shipped examples: findings per workload, exit 3 at the default --fail-on high', async () => {
    const result = await runCli(['audit', 'images', '-f', 'examples/'])
    expect(result.code, result.stderr).to.equal(3)
    expect(result.stdout).to.contain('Deployment default/insecure-web  (examples/insecure-deployment.yaml)')
    expect(result.stdout).to.match(/CRITICAL\s+privileged\s+web\s+22\s+container "web" is privileged/)
    expect(result.stdout).to.match(
      /Summary: 1 critical, \d+ high, \d+ medium, \d+ low \(\d+ findings in 3 of 4 workloads\)/,
    )
    expect(result.stdout).to.not.contain('hardened-web')
    expect(result.stdout).to.not.contain('\u001B[')
  })

  it('flags of the other source are refused, saying where they apply', async () => {
    for (const [args, message] of [
      [
        ['-f', EXAMPLES, '-n', 'team-a'],
        '--namespace applies only to the cluster audit (without -f or --image-archive)',
      ],
      [['-f', EXAMPLES, '-A'], '--all-namespaces applies only to the cluster audit (without -f or --image-archive)'],
      [
        ['-f', EXAMPLES, '-l', 'app=web'],
        '--selector applies only to the cluster audit (without -f or --image-archive)',
      ],
      [['--fix-dir', 'out'], '--fix-dir applies only to files (-f)'],
      [['--allow-empty'], '--allow-empty applies only to files (-f)'],
    ] as Array<[string[], string]>) {
      const result = await runCli(['audit', 'images', ...args])
      expect(result.code, args.join(' ')).to.equal(1)
      expect(result.stderr).to.equal(`error: ${message}\n`)
    }
  })

  it('-o json has the stable shape with file and line', async () => {
    const result = await runCli(['audit', 'images', '-f', EXAMPLES, '-o', 'json', '--fail-on', 'none'])
    expect(result.code, result.stderr).to.equal(0)
    const doc = JSON.parse(result.stdout)
    expect(Object.keys(doc)).to.deep.equal(['findings', 'summary'])
    expect(Object.keys(doc.summary)).to.deep.equal([
      'critical',
      'high',
      'medium',
      'low',
      'info',
      'total',
      'exempted',
      'auditedByShape',
      'skipped',
    ])
    expect(doc.summary.total).to.equal(doc.findings.length)
    const latest = doc.findings.find(
      (f: {check: string; container: string}) => f.check === 'image-tag-latest' && f.container === 'web',
    )
    expect(latest).to.deep.equal({
      check: 'image-tag-latest',
      severity: 'high',
      resource: {kind: 'Deployment', namespace: 'default', name: 'insecure-web'},
      container: 'web',
      image: 'nginx:latest',
      message: 'nginx:latest uses the mutable tag :latest; name a version',
      file: path.join(EXAMPLES, 'insecure-deployment.yaml'),
      line: 23,
    })
    // CronJob pod templates and init containers are audited; a digest-only image never gets image-tag-missing.
    expect(doc.findings.some((f: {resource: {kind: string}}) => f.resource.kind === 'CronJob')).to.equal(true)
    expect(
      doc.findings.some(
        (f: {container: string; check: string}) => f.container === 'setup' && f.check === 'image-tag-missing',
      ),
    ).to.equal(true)
  })

  it('-o yaml carries the same document', async () => {
    const [json, yaml] = await Promise.all([
      runCli(['audit', 'images', '-f', EXAMPLES, '-o', 'json', '--fail-on', 'none']),
      runCli(['audit', 'images', '-f', EXAMPLES, '-o', 'yaml', '--fail-on', 'none']),
    ])
    expect(parseYaml(yaml.stdout)).to.deep.equal(JSON.parse(json.stdout))
  })

  it('-o sarif is SARIF 2.1.0 with one rule per check and file/line locations', async () => {
    const result = await runCli(['audit', 'images', '-f', 'examples', '-o', 'sarif'])
    expect(result.code).to.equal(3)
    const sarif = JSON.parse(result.stdout)
    expect(sarif.version).to.equal('2.1.0')
    const run = sarif.runs[0]
    const ruleIds = run.tool.driver.rules.map((r: {id: string}) => r.id)
    expect(new Set(ruleIds).size).to.equal(ruleIds.length)
    expect(ruleIds).to.include.members([
      'image-tag-latest',
      'image-tag-missing',
      'privileged',
      'image-tag-digest-mismatch',
    ])
    for (const res of run.results) {
      expect(ruleIds[res.ruleIndex]).to.equal(res.ruleId)
      expect(['error', 'warning', 'note']).to.include(res.level)
      const location = res.locations[0].physicalLocation
      expect(location.artifactLocation.uri).to.match(/^examples\/[a-z-]+\.yaml$/)
      expect(location.region.startLine).to.be.a('number').greaterThan(0)
    }
  })

  it('--fail-on decides the exit code', async () => {
    const hardened = path.join(EXAMPLES, 'hardened-deployment.yaml')
    expect((await runCli(['audit', 'images', '-f', hardened])).code).to.equal(0)
    expect(
      (await runCli(['audit', 'images', '-f', path.join(EXAMPLES, 'cronjob.yaml'), '--fail-on', 'critical'])).code,
    ).to.equal(0)
    expect(
      (await runCli(['audit', 'images', '-f', path.join(EXAMPLES, 'cronjob.yaml'), '--fail-on', 'high'])).code,
    ).to.equal(3)
    expect(
      (await runCli(['audit', 'images', '-f', path.join(EXAMPLES, 'cronjob.yaml'), '--fail-on', 'low', '-o', 'json']))
        .code,
    ).to.equal(3)
  })

  it('reads stdin, JSON files, List kinds and nested directories', async () => {
    const nested = path.join(dir, 'tree', 'deeper')
    mkdirSync(nested, {recursive: true})
    writeFileSync(
      path.join(nested, 'list.json'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {name: 'from-list', namespace: 'ns1'},
            spec: {containers: [{name: 'c', image: 'nginx'}]},
          },
        ],
      }),
    )
    writeFileSync(path.join(dir, 'tree', 'notes.txt'), 'not a manifest')
    const fromDir = await runCli(['audit', 'images', '-f', path.join(dir, 'tree'), '-o', 'json'])
    const doc = JSON.parse(fromDir.stdout)
    expect(
      doc.findings
        .filter((f: {check: string}) => f.check === 'image-tag-missing')
        .map((f: {resource: object}) => f.resource),
    ).to.deep.equal([{kind: 'Pod', namespace: 'ns1', name: 'from-list'}])

    const stdin = await runCli(['audit', 'images', '-f', '-', '-o', 'json'], {
      input:
        '---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: c, image: "nginx:latest"}\n',
    })
    const stdinDoc = JSON.parse(stdin.stdout)
    const finding = stdinDoc.findings.find((f: {check: string}) => f.check === 'image-tag-latest')
    expect(finding).to.include({file: '<stdin>', line: 9})
    expect(finding.resource).to.deep.equal({kind: 'Job', namespace: '', name: 'j'})
  })

  it('a broken YAML file is named with its line, the other files are still audited, exit 1', async () => {
    const broken = path.join(dir, 'broken')
    mkdirSync(broken)
    writeFileSync(path.join(broken, 'a-bad.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: indent\n')
    writeFileSync(
      path.join(broken, 'b-good.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: good}\nspec:\n  containers:\n  - {name: c, image: "nginx:latest"}\n',
    )
    const result = await runCli(['audit', 'images', '-f', broken, '-o', 'json'])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(
      new RegExp(
        `^error: ${path.join(broken, 'a-bad.yaml').replaceAll('/', '\\/')}:4: YAML syntax error: a nested mapping on one line \\(a second ": "\\); quote the value\n`,
      ),
    )
    expect(
      JSON.parse(result.stdout).findings.some((f: {resource: {name: string}}) => f.resource.name === 'good'),
    ).to.equal(true)
  })

  it('a missing file is a clear error with exit 1', async () => {
    const result = await runCli(['audit', 'images', '-f', '/nonexistent/x.yaml'])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.equal('error: /nonexistent/x.yaml: cannot be read: no such file or directory\n')
  })

  it('an invalid image reference is a finding, not a crash', async () => {
    const file = path.join(dir, 'invalid.yaml')
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Pod\nmetadata: {name: bad-image}\nspec:\n  containers:\n  - {name: c, image: "Nginx:1"}\n',
    )
    const result = await runCli(['audit', 'images', '-f', file, '-o', 'json'])
    expect(result.code).to.equal(3)
    const finding = JSON.parse(result.stdout).findings[0]
    expect(finding).to.include({check: 'image-reference-invalid', line: 6})
    expect(finding.message).to.contain('repository name must be lowercase')
  })

  it('--allowed-registries and --policy add the registry check; a bad policy names the field', async () => {
    const result = await runCli([
      'audit',
      'images',
      '-f',
      path.join(EXAMPLES, 'private-registry-pod.yaml'),
      '--allowed-registries',
      'docker.io,registry.k8s.io',
      '-o',
      'json',
    ])
    expect(JSON.parse(result.stdout).findings.map((f: {check: string}) => f.check)).to.include(
      'image-registry-not-allowed',
    )
    const policy = path.join(dir, 'policy.yaml')
    writeFileSync(policy, 'allowedRegistries: [docker.io]\nrequireDigest: maybe\n')
    const bad = await runCli(['audit', 'images', '-f', EXAMPLES, '--policy', policy])
    expect(bad.code).to.equal(1)
    expect(bad.stderr).to.contain(`${policy}:2: requireDigest: must be true or false, not a string`)
  })

  it('a policy that marks a registry private flags pods without a pull secret', async () => {
    const policy = path.join(dir, 'private.yaml')
    writeFileSync(policy, 'privateRegistries: ["myprivateregistry.com:5000"]\n')
    const file = path.join(dir, 'nosecret.yaml')
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: "myprivateregistry.com:5000/nginx:alpine"}\n',
    )
    const withoutSecret = JSON.parse(
      (await runCli(['audit', 'images', '-f', file, '--policy', policy, '-o', 'json'])).stdout,
    )
    expect(withoutSecret.findings.map((f: {check: string}) => f.check)).to.include('image-pull-secret-missing')
    const withSecret = JSON.parse(
      (
        await runCli([
          'audit',
          'images',
          '-f',
          path.join(EXAMPLES, 'private-registry-pod.yaml'),
          '--policy',
          policy,
          '-o',
          'json',
        ])
      ).stdout,
    )
    expect(withSecret.findings.map((f: {check: string}) => f.check)).to.not.include('image-pull-secret-missing')
  })

  describe('--ignore-check', () => {
    const checksIn = (stdout: string): string[] => [
      ...new Set(JSON.parse(stdout).findings.map((f: {check: string}) => f.check) as string[]),
    ]

    it('leaves out the named checks (comma list and repeated flag), keeps the others', async () => {
      const all = await runCli(['audit', 'images', '-f', EXAMPLES, '-o', 'json', '--fail-on', 'none'])
      expect(checksIn(all.stdout)).to.include.members([
        'privileged',
        'run-as-root',
        'resources-missing',
        'image-tag-latest',
      ])
      const result = await runCli([
        'audit',
        'images',
        '-f',
        EXAMPLES,
        '-o',
        'json',
        '--fail-on',
        'none',
        '--ignore-check',
        'privileged, run-as-root',
        '--ignore-check',
        'resources-missing',
      ])
      expect(result.code, result.stderr).to.equal(0)
      const left = checksIn(result.stdout)
      for (const ignored of ['privileged', 'run-as-root', 'resources-missing']) expect(left).to.not.include(ignored)
      expect(left).to.include('image-tag-latest')
      const kept = JSON.parse(all.stdout).findings.filter(
        (f: {check: string}) => !['privileged', 'run-as-root', 'resources-missing'].includes(f.check),
      )
      expect(JSON.parse(result.stdout).findings).to.deep.equal(kept)
    })

    it('ignoring the only critical check changes the exit code; SARIF lists only the checks that ran', async () => {
      const insecure = path.join(EXAMPLES, 'insecure-deployment.yaml')
      expect((await runCli(['audit', 'images', '-f', insecure, '--fail-on', 'critical'])).code).to.equal(3)
      expect(
        (await runCli(['audit', 'images', '-f', insecure, '--fail-on', 'critical', '--ignore-check', 'privileged']))
          .code,
      ).to.equal(0)
      const sarif = JSON.parse(
        (
          await runCli([
            'audit',
            'images',
            '-f',
            insecure,
            '-o',
            'sarif',
            '--ignore-check',
            'privileged,image-vulnerable',
          ])
        ).stdout,
      )
      const rules = sarif.runs[0].tool.driver.rules as Array<{id: string; helpUri: string}>
      expect(rules.map((r) => r.id)).to.not.include('privileged')
      expect(rules.map((r) => r.id)).to.not.include('image-vulnerable')
      expect(rules.find((r) => r.id === 'image-tag-latest')!.helpUri).to.equal(
        'https://github.com/kubectl-imgsec/kubectl-imgsec/blob/main/docs/checks.md#image-tag-latest',
      )
    })

    it('an unknown ID is refused with a did-you-mean: one error line, exit 1, no report', async () => {
      const result = await runCli(['audit', 'images', '-f', EXAMPLES, '--ignore-check', 'image-tag-latest,priviledged'])
      expect(result.code).to.equal(1)
      expect(result.stdout).to.equal('')
      expect(result.stderr).to.equal('error: --ignore-check: unknown check "priviledged"; did you mean "privileged"?\n')
    })

    it('an ID with no close match lists the checks; it is refused before any kubeconfig is read', async () => {
      const result = await runCli(['audit', 'images', '--ignore-check', 'nothing-like-it'], {
        env: {KUBECONFIG: path.join(dir, 'missing-kubeconfig')},
      })
      expect(result.code).to.equal(1)
      expect(result.stderr.split('\n').filter(Boolean)).to.have.length(1)
      expect(result.stderr).to.match(
        /^error: --ignore-check: unknown check "nothing-like-it"; the checks are image-reference-invalid, .*, privileged, .*, image-tag-digest-mismatch, image-vulnerable, image-signature-missing, image-signature-invalid, image-tag-digest-drift\n$/,
      )
    })
  })

  describe('--scan', () => {
    it('adds image-vulnerable findings from trivy, one scan per distinct image', async () => {
      const trivy = installFakeTrivy(path.join(dir, 'trivy'), {
        'nginx:latest': trivyReport('nginx:latest', [['CVE-2024-0002', 'openssl', 'CRITICAL']]),
      })
      const bin = trivy.bin
      const result = await runCli(['audit', 'images', '-f', EXAMPLES, '--scan', '-o', 'json', '--fail-on', 'none'], {
        env: {PATH: `${bin}${path.delimiter}${process.env.PATH}`},
      })
      expect(result.code, result.stderr).to.equal(0)
      const vulnerable = JSON.parse(result.stdout).findings.filter(
        (f: {check: string}) => f.check === 'image-vulnerable',
      )
      expect(vulnerable).to.have.length(1)
      expect(vulnerable[0]).to.deep.include({
        severity: 'critical',
        container: 'web',
        image: 'nginx:latest',
        message: 'nginx:latest has known vulnerabilities: 1 CRITICAL (CVE-2024-0002)',
      })
      const scanned = trivy
        .calls()
        .map((args) => args.at(-1)!)
        .sort()
      expect(scanned).to.deep.equal([...new Set(scanned)])
      expect(scanned).to.include.members([
        'nginx:latest',
        'busybox',
        'httpd:2.4.62',
        'myprivateregistry.com:5000/nginx:alpine',
      ])
    })

    it('--ignore-check image-vulnerable: no scan at all', async () => {
      const trivy = installFakeTrivy(path.join(dir, 'trivy-unused'), {
        'nginx:latest': trivyReport('nginx:latest', [['CVE-2024-0002', 'openssl', 'CRITICAL']]),
      })
      const result = await runCli(
        [
          'audit',
          'images',
          '-f',
          EXAMPLES,
          '--scan',
          '--ignore-check',
          'image-vulnerable',
          '-o',
          'json',
          '--fail-on',
          'none',
        ],
        {env: {PATH: `${trivy.bin}${path.delimiter}${process.env.PATH}`}},
      )
      expect(result.code, result.stderr).to.equal(0)
      expect(trivy.calls()).to.deep.equal([])
      expect(JSON.parse(result.stdout).findings.some((f: {check: string}) => f.check === 'image-vulnerable')).to.equal(
        false,
      )
    })

    it('without trivy: one clear message, the rest of the audit still runs', async () => {
      const result = await runCli(['audit', 'images', '-f', EXAMPLES, '--scan', '-o', 'json'], {
        env: {PATH: path.dirname(process.execPath)},
      })
      expect(result.code).to.equal(3)
      expect(result.stderr).to.equal(
        'warning: --scan: trivy is not on PATH, so images were not scanned for vulnerabilities (install trivy); the other checks ran\n',
      )
      expect(JSON.parse(result.stdout).summary.total).to.be.greaterThan(10)
    })
  })
})

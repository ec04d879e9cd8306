import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {CLI, letOthersReachCli, runCli, runProgram} from '../support/cli.js'

// Issue 11: no input aborts, hangs or fools `audit images -f`.
const pod = (name: string, container = '', spec = '') => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default}
spec:
${spec}  containers:
  - name: c
    image: nginx:1.25.3
${container}`

const errorLines = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('error: '))

describe('audit images -f: unusual input (built CLI)', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-input-'))
  })
  after(() => {
    rmSync(dir, {recursive: true, force: true})
  })

  it('bad objects, a FIFO, /dev/zero and an alias bomb are each reported; the rest is audited; exit 1 at the end', async () => {
    const tree = path.join(dir, 'tree')
    mkdirSync(tree)
    writeFileSync(
      path.join(tree, 'a-bad.yaml'),
      [
        pod('pull-map', '', '  imagePullSecrets: {name: regcred}\n'),
        'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: default}\nimagePullSecrets: {name: regcred}\n',
        pod('caps', '    securityContext: {capabilities: {drop: ALL, add: SYS_ADMIN}}\n'),
        'apiVersion: v1\nkind: Pod\nmetadata: {name: num}\nspec:\n  containers:\n  - name: c\n    image: 1.25\n',
        'apiVersion: v1\nkind: Pod\nmetadata: {name: helm}\nspec:\n  containers:\n  - name: c\n    image: {{ .Values.image }}\n',
      ].join('---\n'),
    )
    const levels = [
      '  a: &a [x,x,x,x,x,x,x,x,x]',
      ...['b', 'c', 'd', 'e', 'f'].map(
        (name, i) => `  ${name}: &${name} [${Array(9).fill(`*${'abcdef'[i]}`).join(',')}]`,
      ),
    ]
    writeFileSync(
      path.join(tree, 'b-lol.yaml'),
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n${levels.join('\n')}\n`,
    )
    execFileSync('mkfifo', [path.join(tree, 'c-fifo.yaml')])
    symlinkSync('/dev/zero', path.join(tree, 'd-zero.yaml'))
    writeFileSync(path.join(tree, 'e-good.yaml'), pod('yes-privileged', '    securityContext: {privileged: yes}\n'))
    const started = Date.now()
    const result = await runCli(['audit', 'images', '-f', tree, '-o', 'json'])
    expect(Date.now() - started).to.be.lessThan(15_000)
    expect(result.code, result.stderr).to.equal(1)
    const findings = JSON.parse(result.stdout).findings as Array<{
      check: string
      resource: {name: string}
      line: number
    }>
    // `privileged: yes` is true for kubectl: the critical finding is there.
    expect(findings.filter((f) => f.check === 'privileged').map((f) => [f.resource.name, f.line])).to.deep.equal([
      ['yes-privileged', 6],
    ])
    const file = (name: string) => path.join(tree, name)
    expect(errorLines(result.stderr)).to.deep.equal([
      `error: ${file('a-bad.yaml')}:5: spec.imagePullSecrets: expected a list`,
      `error: ${file('a-bad.yaml')}:13: imagePullSecrets: expected a list`,
      `error: ${file('a-bad.yaml')}:22: spec.containers[0].securityContext.capabilities.add: expected a list`,
      `error: ${file('a-bad.yaml')}:22: spec.containers[0].securityContext.capabilities.drop: expected a list`,
      `error: ${file('a-bad.yaml')}:30: spec.containers[0].image: expected a string, not the number 1.25 (quote it: "1.25")`,
      `error: ${file('a-bad.yaml')}:38: spec.containers[0].image: looks like an unrendered template ({{ … }}); render it first (helm template …)`,
      `error: ${file('b-lol.yaml')}:1: YAML syntax error: too many alias expansions`,
      `error: ${file('c-fifo.yaml')}: is a FIFO (named pipe), not a regular file; skipped`,
      `error: ${file('d-zero.yaml')}: is a character device, not a regular file; skipped`,
    ])
    // Nothing else on stderr (no Node warning about collection keys).
    expect(result.stderr.split('\n').filter(Boolean)).to.have.length(9)
  })

  it('a FIFO given by name does not block', async () => {
    const fifo = path.join(dir, 'x.yaml')
    execFileSync('mkfifo', [fifo])
    const result = await runCli(['audit', 'images', '-f', fifo])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.contain(`error: ${fifo}: is a FIFO (named pipe), not a regular file; skipped`)
  })

  it('an unreadable subdirectory is reported by its own path and the walk goes on', async function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv')) this.skip()
    const tree = path.join(dir, 'walk')
    mkdirSync(path.join(tree, 'a-locked'), {recursive: true})
    writeFileSync(path.join(tree, 'b.yaml'), pod('after', '    securityContext: {privileged: true}\n'))
    chmodSync(dir, 0o755)
    chmodSync(path.join(tree, 'a-locked'), 0)
    // As nobody, without root's capabilities: the locked directory really cannot be listed.
    const restore = letOthersReachCli()
    const result = await runProgram(
      '/usr/bin/setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        CLI,
        'audit',
        'images',
        '-f',
        tree,
        '-o',
        'json',
      ],
      {env: {HOME: '/tmp'}},
    ).finally(restore)
    chmodSync(path.join(tree, 'a-locked'), 0o755)
    expect(result.code, result.stderr).to.equal(1)
    expect(result.stderr).to.contain(
      `error: ${path.join(tree, 'a-locked')}: directory cannot be read: permission denied; its files were not audited`,
    )
    expect(
      JSON.parse(result.stdout).findings.some(
        (f: {check: string; resource: {name: string}}) => f.check === 'privileged' && f.resource.name === 'after',
      ),
    ).to.equal(true)
  })

  it('a YAML document over 3 MiB is reported by file:line and left unread; the other documents are audited; exit 1', async () => {
    const entries = Array.from({length: 150_000}, (_, i) => `  key${i}: "value-${i}"`).join('\n')
    const big = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, namespace: default}\ndata:\n${entries}\n`
    const file = path.join(dir, 'big-document.yaml')
    writeFileSync(file, `${pod('before')}---\n${big}---\n${pod('after', '    securityContext: {privileged: true}\n')}`)
    const started = Date.now()
    const result = await runCli(['audit', 'images', '-f', file, '-o', 'json', '--fail-on', 'none'])
    const elapsed = Date.now() - started
    expect(result.code).to.equal(1)
    expect(errorLines(result.stderr)).to.deep.equal([
      `error: ${file}:9: YAML document of ${(Buffer.byteLength(big) / 1024 / 1024).toFixed(1)} MiB is over the limit of 3 MiB per document (kube-apiserver refuses larger requests); document not audited`,
    ])
    const findings = JSON.parse(result.stdout).findings as Array<{
      check: string
      resource: {name: string}
      line: number
    }>
    expect([...new Set(findings.map((f) => f.resource.name))].sort()).to.deep.equal(['after', 'before'])
    const privileged = findings.find((f) => f.check === 'privileged')!
    expect(privileged.resource.name).to.equal('after')
    // The container's line (`- name: c`) in the file as written: 7 lines, ---, 4 + 150000 lines, ---, 6 lines.
    expect(privileged.line).to.equal(7 + 1 + (4 + 150_000) + 1 + 6)
    // Was 13.8 s and 680 MB for a 10 MB document on this machine; now the document is never lexed.
    expect(elapsed).to.be.below(8000)
  })

  it('stdin gets the size limit and the shape checks', async () => {
    const big = await runCli(['audit', 'images', '-f', '-', '--max-file-size', '1Ki'], {input: pod('p').repeat(20)})
    expect(big.code).to.equal(1)
    expect(big.stderr).to.equal(
      'error: <stdin>: is larger than the limit of 1 KiB; not audited (raise it with --max-file-size)\n',
    )
    const shape = await runCli(['audit', 'images', '-f', '-', '-o', 'json'], {
      input: `${pod('bad', '    securityContext: {capabilities: {drop: ALL}}\n')}---\n${pod('good', '    securityContext: {privileged: true}\n')}`,
    })
    expect(shape.code).to.equal(1)
    expect(errorLines(shape.stderr)).to.deep.equal([
      'error: <stdin>:8: spec.containers[0].securityContext.capabilities.drop: expected a list',
    ])
    expect(
      JSON.parse(shape.stdout).findings.some((f: {resource: {name: string}}) => f.resource.name === 'good'),
    ).to.equal(true)
    const bad = await runCli(['audit', 'images', '-f', '-', '--max-file-size', 'lots'])
    expect(bad.code).to.equal(1)
    expect(bad.stderr).to.equal(
      'error: --max-file-size: "lots" is not a size; use bytes or a quantity such as 512Ki, 32Mi or 1Gi\n',
    )
  })

  it('no Kubernetes object at all is an error unless --allow-empty', async () => {
    const empty = path.join(dir, 'empty')
    mkdirSync(empty)
    writeFileSync(path.join(empty, 'blank.yaml'), '# nothing here\n---\n')
    const result = await runCli(['audit', 'images', '-f', empty])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.equal(
      `error: no Kubernetes objects found in "${empty}"; pass --allow-empty if that is expected\n`,
    )
    const allowed = await runCli(['audit', 'images', '-f', empty, '--allow-empty'])
    expect(allowed.code, allowed.stderr).to.equal(0)
    const devNull = await runCli(['audit', 'images', '-f', '/dev/null'])
    expect(devNull.code).to.equal(1)
    const stdin = await runCli(['audit', 'images', '-f', '-'], {input: ''})
    expect(stdin.stderr).to.equal(
      'error: no Kubernetes objects found in standard input; pass --allow-empty if that is expected\n',
    )
  })

  it('a duplicate key is read as kubectl reads it (last wins), with a warning', async () => {
    const file = path.join(dir, 'dup.yaml')
    writeFileSync(file, pod('dup', '    securityContext:\n      privileged: false\n      privileged: true\n'))
    const result = await runCli(['audit', 'images', '-f', file, '-o', 'json'])
    expect(result.code).to.equal(3)
    expect(result.stderr).to.equal(`warning: ${file}:10: duplicate key: the last value is used, as kubectl does\n`)
    expect(JSON.parse(result.stdout).findings.some((f: {check: string}) => f.check === 'privileged')).to.equal(true)
  })
})

import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseAllDocuments, stringify as stringifyYaml} from 'yaml'

import {runChecks} from '../../../src/lib/audit/audit.js'
import {manifestAuditInput} from '../../../src/lib/audit/audit-files.js'
import {AUDIT_DEFAULT_POLICY} from '../../../src/lib/audit/audit-run.js'

import {
  MAX_DOCUMENT_BYTES,
  MAX_DOCUMENT_NODES,
  parseManifests,
  readManifests,
} from '../../../src/lib/audit/manifest-files.js'
import {manifestFiles, parseByteSize, readManifestFile} from '../../../src/lib/audit/manifest-sources.js'
import {shapeProblems} from '../../../src/lib/audit/manifest-shape.js'
import {workloadOf} from '../../../src/lib/audit/workloads.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

const pod = (container: string, spec = '') => `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
${spec}  containers:
  - name: c
    image: nginx:1.25
${container}`

const one = (text: string) => {
  const parsed = parseManifests(text, 'x.yaml')
  expect(parsed.errors, JSON.stringify(parsed.errors)).to.deep.equal([])
  expect(parsed.objects).to.have.length(1)
  return parsed.objects[0]
}

describe('parseManifests: YAML as kubectl decodes it (go-yaml v2, YAML 1.1)', () => {
  const cases: Array<{name: string; container: string; path: string[]; value: unknown}> = [
    {
      name: 'privileged: yes is true',
      container: '    securityContext: {privileged: yes}\n',
      path: ['privileged'],
      value: true,
    },
    {
      name: 'runAsNonRoot: yes is true',
      container: '    securityContext: {runAsNonRoot: yes}\n',
      path: ['runAsNonRoot'],
      value: true,
    },
    {
      name: 'readOnlyRootFilesystem: Y is true',
      container: '    securityContext: {readOnlyRootFilesystem: Y}\n',
      path: ['readOnlyRootFilesystem'],
      value: true,
    },
    {
      name: 'allowPrivilegeEscalation: off is false',
      container: '    securityContext: {allowPrivilegeEscalation: off}\n',
      path: ['allowPrivilegeEscalation'],
      value: false,
    },
    {
      name: 'privileged: On is true',
      container: '    securityContext: {privileged: On}\n',
      path: ['privileged'],
      value: true,
    },
    {
      name: 'privileged: n is false',
      container: '    securityContext: {privileged: n}\n',
      path: ['privileged'],
      value: false,
    },
    {
      name: 'a quoted "yes" stays a string',
      container: '    securityContext: {seLinuxOptions: {user: "yes"}}\n',
      path: ['seLinuxOptions', 'user'],
      value: 'yes',
    },
    {
      name: 'a merge key brings its fields',
      container: '    securityContext: {<<: {privileged: true, capabilities: {add: [SYS_ADMIN]}}}\n',
      path: ['capabilities', 'add'],
      value: ['SYS_ADMIN'],
    },
    {
      name: 'an explicit field wins over the merged one',
      container: '    securityContext:\n      <<: {privileged: true}\n      privileged: false\n',
      path: ['privileged'],
      value: false,
    },
    {
      name: 'a duplicate key keeps the last value',
      container: '    securityContext:\n      privileged: false\n      privileged: true\n',
      path: ['privileged'],
      value: true,
    },
  ]
  for (const {name, container, path: fieldPath, value} of cases) {
    it(name, () => {
      const object = one(pod(container)).object
      let current = object.spec.containers[0].securityContext
      for (const key of fieldPath) current = current[key]
      expect(current).to.deep.equal(value)
    })
  }

  it('merge keys through an anchor, with line numbers of the fields that are written', () => {
    const text = `${pod(`    securityContext: &hardened
      runAsNonRoot: true
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
  - name: d
    image: nginx:1.25
    securityContext:
      <<: *hardened
      runAsUser: 1000
`)}`
    const manifest = one(text)
    expect(manifest.object.spec.containers[1].securityContext).to.deep.equal({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: {drop: ['ALL']},
      runAsUser: 1000,
    })
    expect(manifest.lineOf(['spec', 'containers', 1, 'securityContext', 'runAsUser'])).to.equal(17)
    // A merged field has no line of its own: its securityContext's.
    expect(manifest.lineOf(['spec', 'containers', 1, 'securityContext', 'runAsNonRoot'])).to.equal(16)
    expect(manifest.lineOf(['spec', 'containers', 1, 'image'])).to.equal(14)
  })

  it('a duplicate key is a warning with its line, not a rejected document', () => {
    const parsed = parseManifests(
      pod('    securityContext:\n      privileged: false\n      privileged: true\n'),
      'x.yaml',
    )
    expect(parsed.errors).to.deep.equal([])
    expect(parsed.objects).to.have.length(1)
    expect(parsed.warnings).to.deep.equal([
      {file: 'x.yaml', line: 10, message: 'duplicate key: the last value is used, as kubectl does'},
    ])
  })

  it('an alias bomb is an error of its document only; the next document is read', () => {
    const levels = [
      '  a: &a [x,x,x,x,x,x,x,x,x]',
      ...['b', 'c', 'd', 'e', 'f'].map(
        (name, i) => `  ${name}: &${name} [${Array(9).fill(`*${'abcdef'[i]}`).join(',')}]`,
      ),
    ]
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n${levels.join('\n')}\n---\n${pod('')}`
    const parsed = parseManifests(text, 'x.yaml')
    expect(parsed.errors).to.have.length(1)
    expect(parsed.errors[0].message).to.match(/too many alias expansions$/)
    expect(parsed.objects.map((o) => o.object.kind)).to.deep.equal(['Pod'])
  })

  it('a document over 3 MiB is an error naming its line, left unread; the others keep their lines and offsets', () => {
    const entries = Array.from({length: 150_000}, (_, i) => `  key${i}: "value-${i}"`).join('\n')
    const big = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n${entries}\n`
    expect(Buffer.byteLength(big)).to.be.greaterThan(MAX_DOCUMENT_BYTES)
    const text = `${pod('')}---\n${big}---\n${pod('').replace('nginx:1.25', 'nginx:1.27')}`
    const started = Date.now()
    const parsed = parseManifests(text, 'x.yaml')
    expect(Date.now() - started).to.be.below(3000)
    const bigLine = text.slice(0, text.indexOf('kind: ConfigMap')).split('\n').length - 1
    expect(parsed.errors).to.deep.equal([
      {
        file: 'x.yaml',
        line: bigLine,
        message: `YAML document of ${(Buffer.byteLength(big) / 1024 / 1024).toFixed(1)} MiB is over the limit of 3 MiB per document (kube-apiserver refuses larger requests); document not audited`,
      },
    ])
    const [first, last] = parsed.objects
    expect(parsed.objects).to.have.length(2)
    const imageLine = (o: (typeof parsed.objects)[number]) => o.lineOf(['spec', 'containers', 0, 'image'])
    expect(imageLine(first)).to.equal(7)
    expect(imageLine(last)).to.equal(text.slice(0, text.indexOf('nginx:1.27')).split('\n').length)
    // Offsets for byte-exact edits (--fix) point into the file as written.
    const at = last.scalarAt(['spec', 'containers', 0, 'image'])!
    expect(text.slice(at.start, at.end)).to.equal('nginx:1.27')
  })
})

describe('parseManifests: a document with too many nodes', () => {
  it('is an error naming its line and the limit, left unread in bounded time; the documents around it are read', () => {
    // Under 3 MiB, but 1.4 million nodes: composing it took 9 s and 1.4 GB. Marks: its commas and 9 newlines (one after `---`).
    const dense = `apiVersion: v1\nkind: Pod\nmetadata: {name: dense}\nspec:\n  containers:\n  - name: a\n    image: nginx:latest\n    args: [${Array.from({length: 1_400_000}, () => '1').join(',')}]\n`
    expect(Buffer.byteLength(dense)).to.be.below(MAX_DOCUMENT_BYTES)
    const text = `${pod('')}---\n${dense}---\n${pod('').replace('nginx:1.25', 'nginx:1.27')}`
    const started = Date.now()
    const parsed = parseManifests(text, 'x.yaml')
    expect(Date.now() - started).to.be.below(3000)
    const denseLine = text.slice(0, text.indexOf('kind: Pod\nmetadata: {name: dense}')).split('\n').length - 1
    expect(parsed.errors).to.deep.equal([
      {
        file: 'x.yaml',
        line: denseLine,
        message: `YAML document with ${1_400_000 - 1 + 9} lines and commas is over the limit of ${MAX_DOCUMENT_NODES} per document (its nodes; no object the API server stores comes near); document not audited`,
      },
    ])
    expect(parsed.objects.map((o) => o.object.spec.containers[0].image)).to.deep.equal(['nginx:1.25', 'nginx:1.27'])
    const last = parsed.objects[1]
    expect(last.lineOf(['spec', 'containers', 0, 'image'])).to.equal(
      text.slice(0, text.indexOf('nginx:1.27')).split('\n').length,
    )
  })

  it('a document just under the limit is read', () => {
    const items = Array.from({length: MAX_DOCUMENT_NODES - 20}, () => '1').join(',')
    const parsed = parseManifests(
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  k: [${items}]\n`,
      'x.yaml',
    )
    expect(parsed.errors).to.deep.equal([])
    expect(parsed.objects).to.have.length(1)
  })
})

describe('parseManifests: nesting deep enough to exhaust the stack', () => {
  it('is reported, not thrown', () => {
    // Flow nesting: block nesting this deep would be over the 3 MiB document limit (its indentation).
    const nested = `  a: ${'['.repeat(20_000)}${']'.repeat(20_000)}`
    const parsed = parseManifests(
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n${nested}\n---\n${pod('')}`,
      'x.yaml',
    )
    // Where the stack runs out decides whether the parser gives up on the document or on the file.
    expect(parsed.errors).to.have.length(1)
    expect(parsed.errors[0].message).to.match(/^YAML (document )?nested too deeply; (document|file) not audited$/)
  })
})

describe('parseManifests: shape errors are per object, with file:line and the field', () => {
  const cases: Array<{name: string; text: string; line: number; message: string}> = [
    {
      name: 'imagePullSecrets as a mapping on a Pod',
      text: pod('', '  imagePullSecrets: {name: regcred}\n'),
      line: 5,
      message: 'spec.imagePullSecrets: expected a list',
    },
    {
      name: 'imagePullSecrets as a mapping on a ServiceAccount',
      text: 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default}\nimagePullSecrets: {name: regcred}\n',
      line: 4,
      message: 'imagePullSecrets: expected a list',
    },
    {
      name: 'capabilities.drop as a string',
      text: pod('    securityContext: {capabilities: {drop: ALL}}\n'),
      line: 8,
      message: 'spec.containers[0].securityContext.capabilities.drop: expected a list',
    },
    {
      name: 'capabilities.add as a string',
      text: pod('    securityContext:\n      capabilities:\n        add: SYS_ADMIN\n'),
      line: 10,
      message: 'spec.containers[0].securityContext.capabilities.add: expected a list',
    },
    {
      name: 'privileged as a string',
      text: pod('    securityContext: {privileged: "true"}\n'),
      line: 8,
      message: 'spec.containers[0].securityContext.privileged: expected true or false',
    },
    {
      name: 'a number as image',
      text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: 1.25\n',
      line: 7,
      message: 'spec.containers[0].image: expected a string, not the number 1.25 (quote it: "1.25")',
    },
    {
      name: 'an unrendered Helm template as image',
      text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: {{ .Values.image }}\n',
      line: 7,
      message:
        'spec.containers[0].image: looks like an unrendered template ({{ … }}); render it first (helm template …)',
    },
    {
      name: 'containers as a mapping',
      text: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: {name: c}\n',
      line: 7,
      message: 'spec.template.spec.containers: expected a list',
    },
    {
      name: 'a number in a Secret is not repeated in the message',
      text: 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: 12345678}\n',
      line: 4,
      message: 'stringData.password: expected a string, not a number (quote it)',
    },
    {
      name: 'a mapping without apiVersion and kind',
      text: 'metadata: {name: x}\nspec: {}\n',
      line: 1,
      message: '(document): not a Kubernetes object (expected apiVersion and kind)',
    },
  ]
  for (const {name, text, line, message} of cases) {
    it(name, () => {
      const parsed = parseManifests(`${text}---\n${pod('')}`, 'x.yaml')
      expect(parsed.errors).to.deep.equal([{file: 'x.yaml', line, message}])
      // The other object of the file is still read.
      expect(parsed.objects.map((o) => o.object.metadata.name)).to.deep.equal(['p'])
    })
  }

  it('a well-formed object has no shape problem', () => {
    expect(
      shapeProblems(
        one(
          pod(
            '    securityContext: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}, runAsUser: 1000}\n',
            '  imagePullSecrets: [{name: regcred}]\n',
          ),
        ).object,
      ),
    ).to.deep.equal([])
  })

  it('an unrendered template elsewhere in a file is named in its syntax error', () => {
    const parsed = parseManifests('apiVersion: v1\nkind: Pod\n{{- if .Values.x }}\nmetadata: {name: p}\n', 'x.yaml')
    expect(parsed.errors[0].message).to.match(/unrendered template/)
  })
})

describe('workloadOf: kinds the tool does not know, by shape', () => {
  const cases: Array<{object: Record<string, any>; path?: string[]; byShape?: boolean}> = [
    {
      object: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        metadata: {name: 'r'},
        spec: {template: {spec: {containers: []}}},
      },
      path: ['spec', 'template', 'spec'],
      byShape: true,
    },
    {
      object: {
        apiVersion: 'example.com/v1',
        kind: 'Periodic',
        metadata: {name: 'p'},
        spec: {jobTemplate: {spec: {template: {spec: {containers: []}}}}},
      },
      path: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
      byShape: true,
    },
    {
      object: {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: {name: 'vm'},
        spec: {template: {spec: {domain: {}}}},
      },
    },
    {object: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'c'}}},
    {
      object: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {name: 'd'},
        spec: {template: {spec: {containers: []}}},
      },
      path: ['spec', 'template', 'spec'],
      byShape: undefined,
    },
  ]
  for (const {object, path: podSpecPath, byShape} of cases) {
    it(`${object.kind}: ${podSpecPath ? podSpecPath.join('.') : 'no pod template'}`, () => {
      const workload = workloadOf(object)
      expect(workload?.podSpecPath).to.deep.equal(podSpecPath)
      expect(workload?.byShape).to.equal(byShape)
    })
  }
})

describe('reading manifest files: nothing can block or exhaust memory', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-read-'))
  })
  after(() => {
    rmSync(dir, {recursive: true, force: true})
  })

  it('a FIFO, given or found in a directory, is reported without being opened for a blocking read', () => {
    const fifoDir = path.join(dir, 'fifo')
    mkdirSync(fifoDir)
    execFileSync('mkfifo', [path.join(fifoDir, 'x.yaml')])
    writeFileSync(path.join(fifoDir, 'y.yaml'), pod(''))
    const given = readManifests([path.join(fifoDir, 'x.yaml')], {readStdin: () => ''})
    expect(given.errors.map((e) => e.message)).to.deep.equal(['is a FIFO (named pipe), not a regular file; skipped'])
    const found = readManifests([fifoDir], {readStdin: () => ''})
    expect(found.errors).to.deep.equal([
      {file: path.join(fifoDir, 'x.yaml'), message: 'is a FIFO (named pipe), not a regular file; skipped'},
    ])
    expect(found.objects).to.have.length(1)
  })

  it('a symlink to /dev/zero is refused', () => {
    symlinkSync('/dev/zero', path.join(dir, 'zero.yaml'))
    expect(() => readManifestFile(path.join(dir, 'zero.yaml'), 1024)).to.throw(
      'is a character device, not a regular file; skipped',
    )
  })

  it('a file over the size limit is reported and skipped', () => {
    writeFileSync(path.join(dir, 'big.yaml'), pod(''))
    const result = readManifests([path.join(dir, 'big.yaml')], {maxFileSize: 50, readStdin: () => ''})
    expect(result.errors.map((e) => e.message)).to.deep.equal([
      'is larger than the limit of 50 bytes; not audited (raise it with --max-file-size)',
    ])
    expect(
      readManifests([path.join(dir, 'big.yaml')], {maxFileSize: 1000, readStdin: () => ''}).objects,
    ).to.have.length(1)
  })

  it('stdin gets the limit passed to its reader', () => {
    let asked = 0
    readManifests(['-'], {
      maxFileSize: 1234,
      readStdin: (limit) => {
        asked = limit
        return ''
      },
    })
    expect(asked).to.equal(1234)
  })

  it('an unreadable subdirectory is reported by its own path and the walk goes on', function () {
    if (process.getuid?.() === 0) this.skip() // root reads anything; the e2e test runs this as nobody
    const tree = path.join(dir, 'tree')
    mkdirSync(path.join(tree, 'a-locked'), {recursive: true})
    writeFileSync(path.join(tree, 'b.yaml'), pod(''))
    chmodSync(path.join(tree, 'a-locked'), 0)
    try {
      const {files, errors} = manifestFiles([tree])
      expect(errors).to.deep.equal([
        {
          file: path.join(tree, 'a-locked'),
          message: 'directory cannot be read: permission denied; its files were not audited',
        },
      ])
      expect(files).to.deep.equal([path.join(tree, 'b.yaml')])
    } finally {
      chmodSync(path.join(tree, 'a-locked'), 0o755)
    }
  })

  const sizes: Array<[string, number | undefined]> = [
    ['32Mi', 32 * 1024 * 1024],
    ['512Ki', 512 * 1024],
    ['1Gi', 1024 ** 3],
    ['10M', 10_000_000],
    ['32MiB', 32 * 1024 * 1024],
    ['4096', 4096],
    ['0', undefined],
    ['-1', undefined],
    ['lots', undefined],
    ['1.5Mi', undefined],
  ]
  for (const [text, bytes] of sizes) {
    it(`--max-file-size ${text}: ${bytes ?? 'refused'}`, () => {
      if (bytes === undefined) expect(() => parseByteSize(text)).to.throw(/--max-file-size: .* is not a size/)
      else expect(parseByteSize(text)).to.equal(bytes)
    })
  }
})

describe('no shape aborts the audit (property test over the shipped examples)', () => {
  it('300 examples with fields replaced by values of other types: each is audited or reported, nothing throws', () => {
    const examples = readdirSync(path.join(ROOT, 'examples'))
      .filter((name) => name.endsWith('.yaml'))
      .map((name) => readFileSync(path.join(ROOT, 'examples', name), 'utf8'))
    let state = 11
    const next = () => {
      state = (state * 1_103_515_245 + 12_345) & 0x7f_ff_ff_ff
      return state / 0x7f_ff_ff_ff
    }
    const others: unknown[] = [
      null,
      0,
      1,
      -1,
      1.5,
      true,
      'x',
      'ALL',
      [],
      ['a'],
      [1],
      [null],
      {},
      {name: 'r'},
      [{name: 1}],
      {a: [1]},
    ]
    const fields = [
      'imagePullSecrets',
      'securityContext',
      'capabilities',
      'containers',
      'add',
      'drop',
      'annotations',
      'items',
      'serviceAccountName',
      'stringData',
      'data',
      'type',
      'image',
      'name',
    ]
    const mutate = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(mutate)
      if (!value || typeof value !== 'object') return value
      const result: Record<string, unknown> = {}
      for (const [key, inner] of Object.entries(value))
        result[key] = next() < 0.08 ? others[Math.floor(next() * others.length)] : mutate(inner)
      if (next() < 0.1) result[fields[Math.floor(next() * fields.length)]] = others[Math.floor(next() * others.length)]
      return result
    }
    let reported = 0
    for (let i = 0; i < 300; i++) {
      const text = parseAllDocuments(examples[i % examples.length])
        .map((document) => stringifyYaml(mutate(document.toJS())))
        .join('---\n')
      const parsed = parseManifests(text, 'x.yaml')
      reported += parsed.errors.length
      runChecks(manifestAuditInput(parsed.objects, AUDIT_DEFAULT_POLICY), AUDIT_DEFAULT_POLICY)
    }
    // The mutations do produce wrong shapes (the test would prove nothing otherwise).
    expect(reported).to.be.greaterThan(50)
  })
})

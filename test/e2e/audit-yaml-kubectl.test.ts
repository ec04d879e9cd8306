import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parseAllDocuments} from 'yaml'

import {runChecks} from '../../src/lib/audit/audit.js'
import {manifestAuditInput} from '../../src/lib/audit/audit-files.js'
import {AUDIT_DEFAULT_POLICY} from '../../src/lib/audit/audit-run.js'
import {KUBECTL_YAML_OPTIONS, MAX_ALIAS_COUNT, parseManifests} from '../../src/lib/audit/manifest-files.js'
import {KUBECTL, runProgram} from '../support/cli.js'

// Issue 11: the audit reads the same bytes as kubectl does. The real kubectl is the oracle:
// `kubectl label --local -f FILE -o json` decodes the file exactly as `kubectl create/apply` do
// (sigs.k8s.io/yaml over go-yaml v2) and needs no server.

/** A small seeded generator (mulberry32): the same documents on every run, a new seed when asked. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d_2b_79_f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

const BOOLEAN_SPELLINGS = [
  'true',
  'false',
  'True',
  'FALSE',
  'yes',
  'no',
  'Yes',
  'NO',
  'on',
  'off',
  'On',
  'OFF',
  'y',
  'n',
  'Y',
  'N',
  '"yes"',
  "'on'",
  '~',
  'null',
]
const INTEGER_SPELLINGS = ['0', '1000', '0755', '0o17', '0x3E8', '1_000', '+42', '-1', '1e3', '"1000"', '65534']
const STRING_SPELLINGS = [
  'nginx:1.25',
  '"nginx:latest"',
  "'registry.k8s.io/pause:3.9'",
  'nginx@sha256:' + 'a'.repeat(64),
  '2001-12-14',
  '1:20',
  'yes',
  '1.25',
  '0x10',
  '"0755"',
]
const BOOLEAN_FIELDS = ['privileged', 'allowPrivilegeEscalation', 'readOnlyRootFilesystem', 'runAsNonRoot']
const INTEGER_FIELDS = ['runAsUser', 'runAsGroup']

function generatePod(next: () => number, index: number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]
  const fields = () => {
    const lines: string[] = []
    for (const field of BOOLEAN_FIELDS) if (next() < 0.6) lines.push(`${field}: ${pick(BOOLEAN_SPELLINGS)}`)
    for (const field of INTEGER_FIELDS) if (next() < 0.4) lines.push(`${field}: ${pick(INTEGER_SPELLINGS)}`)
    return lines
  }
  const anchored = fields()
  const own = fields()
  // A duplicate of a field already written (go-yaml v2: the last one wins).
  if (own.length > 0 && next() < 0.3) own.push(`${own[0].split(':')[0]}: ${pick(BOOLEAN_SPELLINGS)}`)
  const securityContext =
    next() < 0.5 && anchored.length > 0
      ? ['<<: *base', ...own]
      : next() < 0.5
        ? [`<<: {${anchored.join(', ')}}`, ...own]
        : own
  return [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: {name: p${index}}`,
    'spec:',
    '  containers:',
    '  - name: base',
    `    image: ${pick(STRING_SPELLINGS)}`,
    `    args: [${pick(STRING_SPELLINGS)}, ${pick(INTEGER_SPELLINGS)}, ${pick(BOOLEAN_SPELLINGS)}]`,
    anchored.length > 0 ? `    securityContext: &base {${anchored.join(', ')}}` : '    securityContext: {}',
    '  - name: c',
    `    image: ${pick(STRING_SPELLINGS)}`,
    ...(securityContext.length > 0 ? ['    securityContext:', ...securityContext.map((line) => `      ${line}`)] : []),
    '',
  ].join('\n')
}

async function kubectlReading(file: string): Promise<Array<Record<string, any>>> {
  const result = await runProgram(KUBECTL, ['label', '--local', '-f', file, 'oracle=yes', '-o', 'json'], {
    env: {KUBECONFIG: '/nonexistent'},
  })
  expect(result.code, result.stderr).to.equal(0)
  // One JSON object per document, one after the other (each closes with a `}` in column 0).
  const items: Array<Record<string, any>> = JSON.parse(`[${result.stdout.trim().replaceAll(/^\}\n\{$/gm, '},\n{')}]`)
  for (const item of items) {
    delete item.metadata.labels
  }
  return items
}

describe('YAML decoding agrees with the real kubectl', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-yaml-oracle-'))
  })
  after(() => {
    rmSync(dir, {recursive: true, force: true})
  })

  const seed = Number(process.env.IMGSEC_YAML_SEED ?? 11)
  it(`200 generated pods (seed ${seed}): YAML 1.1 scalars, merge keys, anchors, duplicate keys`, async () => {
    const next = random(seed)
    const text = Array.from({length: 200}, (_, i) => generatePod(next, i)).join('---\n')
    const file = path.join(dir, 'generated.yaml')
    writeFileSync(file, text)
    const theirs = await kubectlReading(file)
    const ours = parseAllDocuments(text, KUBECTL_YAML_OPTIONS).map((document) =>
      (document as {toJS(options: object): unknown}).toJS({maxAliasCount: MAX_ALIAS_COUNT}),
    )
    expect(ours).to.have.length(theirs.length)
    for (const [i, object] of ours.entries())
      expect(object, `document ${i} (IMGSEC_YAML_SEED=${seed})`).to.deep.equal(theirs[i])
  })

  it(`the same verdicts from our reading of the YAML as from kubectl's JSON of it (seed ${seed})`, async () => {
    const next = random(seed + 1)
    const text = Array.from({length: 200}, (_, i) => generatePod(next, i)).join('---\n')
    const file = path.join(dir, 'verdicts.yaml')
    writeFileSync(file, text)
    const theirs = await kubectlReading(file)
    const verdicts = (source: string) => {
      const parsed = parseManifests(source, 'x')
      const findings = runChecks(manifestAuditInput(parsed.objects, AUDIT_DEFAULT_POLICY), AUDIT_DEFAULT_POLICY)
      return {
        findings: findings
          .map((f) => `${f.resource.name}/${f.container}: ${f.check} ${f.severity} ${f.message}`)
          .sort(),
        refused: parsed.errors.map((e) => e.message).sort(),
      }
    }
    const ours = verdicts(text)
    // JSON is YAML: kubectl's output read by the same reader, where no YAML 1.1 question arises.
    const kubectls = verdicts(theirs.map((object) => JSON.stringify(object)).join('\n---\n'))
    expect(ours).to.deep.equal(kubectls)
    expect(ours.findings.some((f) => f.includes(': privileged critical'))).to.equal(true)
  })

  it("the issue's cases: what the audit reads is what kubectl reads", async () => {
    const text = `apiVersion: v1
kind: Pod
metadata: {name: cases}
spec:
  containers:
  - name: c
    image: nginx:1.25.3
    securityContext:
      <<: {privileged: true, capabilities: {add: [SYS_ADMIN]}}
      runAsNonRoot: yes
      readOnlyRootFilesystem: Y
      allowPrivilegeEscalation: off
      runAsUser: 0755
      runAsUser: 1000
`
    const file = path.join(dir, 'cases.yaml')
    writeFileSync(file, text)
    const [theirs] = await kubectlReading(file)
    const parsed = parseManifests(text, file)
    expect(parsed.errors).to.deep.equal([])
    expect(parsed.objects[0].object).to.deep.equal(theirs)
    expect(theirs.spec.containers[0].securityContext).to.deep.equal({
      privileged: true,
      capabilities: {add: ['SYS_ADMIN']},
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      runAsUser: 1000,
    })
  })
})

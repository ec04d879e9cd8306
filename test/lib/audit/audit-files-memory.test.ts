import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {streamManifestAudit} from '../../../src/lib/audit/audit-files.js'
import {collectFileImages} from '../../../src/lib/audit/file-passes.js'
import {CONTAINER_CHECKS} from '../../../src/lib/audit/checks/index.js'
import type {Finding} from '../../../src/lib/audit/audit.js'
import {DEFAULT_POLICY} from '../../../src/lib/policy/policy.js'
import {usedAfterGc} from '../../support/heap.js'

/** A Deployment with `containers` containers: its documents take tens of MB while parsed. */
function bigDeployment(containers: number): string {
  const lines = ['apiVersion: apps/v1', 'kind: Deployment', 'metadata: {name: big, namespace: team}', 'spec:']
  lines.push('  template:', '    spec:', '      containers:')
  for (let i = 0; i < containers; i++)
    lines.push(`      - name: c${i}`, `        image: registry.example.com/team/app-${i}:1.${i}`, '        env:')
  return `${lines.join('\n')}\n`
}

describe('streamManifestAudit memory: one file at a time (issue 13)', () => {
  let dir: string
  before(() => (dir = mkdtempSync(join(tmpdir(), 'imgsec-files-memory-'))))
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('nothing of a file is reachable while the next one is read and parsed', async () => {
    const big = join(dir, 'big.yaml')
    writeFileSync(big, bigDeployment(20_000))
    const findings: Finding[] = []
    const sink = {
      add: (finding: Finding) => void (findings.length < 10 && findings.push(finding)),
      flush: async () => {},
    }
    const baseline = usedAfterGc()
    let whileBigParsed = 0
    let whileNextRead = 0
    await streamManifestAudit(
      [big, '-'],
      {
        readStdin: () => {
          // The second source: the first file (its documents, objects and findings) is done.
          whileNextRead = usedAfterGc() - baseline
          return 'apiVersion: v1\nkind: Pod\nmetadata: {name: small}\nspec: {containers: [{name: a, image: nginx}]}\n'
        },
      },
      DEFAULT_POLICY,
      CONTAINER_CHECKS,
      {
        add(finding) {
          if (whileBigParsed === 0) whileBigParsed = usedAfterGc() - baseline
          sink.add(finding)
        },
        flush: sink.flush,
      },
      {exempted: 0},
    )
    // While the big file is audited, its documents are there (several MB); when the next is read, they are not.
    expect(whileBigParsed, 'heap while the big file is audited').to.be.greaterThan(20 * 1024 * 1024)
    expect(whileNextRead, 'heap when the next file is read').to.be.lessThan(whileBigParsed / 10)
  })

  it('the two-pass file audit too: in each pass, nothing of a file is reachable while the next is read', async () => {
    const big = join(dir, 'big.yaml')
    writeFileSync(big, bigDeployment(20_000))
    const small = 'apiVersion: v1\nkind: Pod\nmetadata: {name: small}\nspec: {containers: [{name: a, image: nginx}]}\n'
    const baseline = usedAfterGc()
    const atNextRead: number[] = []
    const read = {
      readStdin: () => {
        atNextRead.push(usedAfterGc() - baseline)
        return small
      },
    }
    const first = collectFileImages([big, '-'], read, DEFAULT_POLICY)
    expect(first.images.instances).to.have.length(20_001)
    let whileBigChecked = 0
    await streamManifestAudit(
      [big, '-'],
      read,
      DEFAULT_POLICY,
      CONTAINER_CHECKS,
      {
        add() {
          if (whileBigChecked === 0) whileBigChecked = usedAfterGc() - baseline
        },
        flush: async () => {},
      },
      {exempted: 0},
      {index: first.index, answers: {run: {}}, note: (finding) => finding, notices: []},
    )
    expect(whileBigChecked, 'heap while the big file is checked').to.be.greaterThan(20 * 1024 * 1024)
    // The first pass keeps the 20,001 distinct images (a few MB); neither pass keeps the big file's documents.
    for (const [pass, used] of atNextRead.entries())
      expect(used, `heap when pass ${pass + 1} reads the next file`).to.be.lessThan(whileBigChecked / 4)
  })
})

import {expect} from 'chai'
import {readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'

import type {Finding} from '../../../src/lib/audit/audit.js'
import {addSpan, FindingSpool, readSpans} from '../../../src/lib/audit/finding-spool.js'
import {UserError} from '../../../src/lib/errors.js'

const finding = (i: number): Finding => ({
  check: 'image-tag-latest',
  severity: 'high',
  // Multi-byte characters and escapes, so that lines cross the 64 KiB read chunks mid-character.
  resource: {kind: 'Deployment', namespace: `ns-${i % 7}`, name: `web-${i} “é” 🚀`},
  container: `c\n${i}`,
  image: 'nginx',
  message: `${'…'.repeat(i % 50)} line\u2028${i}`,
  fix: 'pin it',
  ...(i % 3 === 0 ? {file: `f${i}.yaml`, line: i} : {}),
  ...(i % 5 === 0 ? {cluster: `ctx-${i % 2}`} : {}),
})

const spoolDirs = () => readdirSync(tmpdir()).filter((name) => name.startsWith('imgsec-spool-')).length

describe('finding spool', () => {
  it('gives back the findings of each reader, in order, by their spans', () => {
    const before = spoolDirs()
    const spool = new FindingSpool()
    // Nothing is left in the temp dir, even while the spool is open.
    expect(spoolDirs()).to.equal(before)
    const spans: number[][] = [[], [], []]
    const written: Finding[][] = [[], [], []]
    for (let i = 0; i < 3000; i++) {
      // Runs of one reader, then another: contiguous appends extend a span.
      const reader = Math.floor(i / 100) % 3
      addSpan(spans[reader], spool.append(finding(i)))
      written[reader].push(finding(i))
    }
    for (const [reader, list] of written.entries()) {
      expect(spans[reader].length).to.equal(20)
      expect([...readSpans(spool, spans[reader])]).to.deep.equal(list)
    }
    // The same span read twice, and after more appends.
    spool.append(finding(9))
    expect([...readSpans(spool, spans[1].slice(0, 2))]).to.deep.equal(written[1].slice(0, 100))
    spool.close()
    spool.close()
  })

  it('two readers taking turns each get their own findings', () => {
    const spool = new FindingSpool()
    const spans: number[][] = [[], []]
    for (let i = 0; i < 2000; i++) addSpan(spans[i % 2], spool.append(finding(i)))
    const [a, b] = [readSpans(spool, spans[0]), readSpans(spool, spans[1])]
    const got: Finding[] = []
    for (let i = 0; i < 1000; i++) got.push(a.next().value as Finding, b.next().value as Finding)
    expect(got).to.deep.equal(Array.from({length: 2000}, (_, i) => finding(i)))
    spool.close()
  })

  it('a temp dir that cannot be written is one user error naming it and TMPDIR', () => {
    const saved = process.env.TMPDIR
    process.env.TMPDIR = '/nonexistent/imgsec'
    try {
      expect(() => new FindingSpool()).to.throw(
        UserError,
        /^cannot create a temporary file in \/nonexistent\/imgsec \(.*no such file or directory\); set TMPDIR to a writable directory$/,
      )
    } finally {
      if (saved === undefined) delete process.env.TMPDIR
      else process.env.TMPDIR = saved
    }
  })

  it('refuses a span beyond what was written', () => {
    const spool = new FindingSpool()
    const [start, end] = spool.append(finding(1))
    expect(() => [...spool.read(start, end + 10)]).to.throw('finding spool: 10 bytes missing')
    spool.close()
  })
})

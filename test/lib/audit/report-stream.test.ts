import {expect} from 'chai'
import {EventEmitter} from 'node:events'

import {type Finding, summarize, summaryReaches} from '../../../src/lib/audit/audit.js'
import {CHECKS, SEVERITIES} from '../../../src/lib/audit/checks/index.js'
import {renderAudit} from '../../../src/lib/audit/reporters.js'
import {reportWriter} from '../../../src/lib/audit/report-stream.js'

// Strings that make YAML quote, fold or block-escape and JSON escape.
const ODD = [
  '',
  'plain',
  'a: b',
  '- dash',
  '# hash',
  'yes',
  'null',
  '~',
  '0x1F',
  '007',
  '1e3',
  ' leading and trailing ',
  'line one\nline two\n',
  'tab\there',
  'quote " and \' both',
  'back\\slash',
  'unicode … “curly” é 日本 🚀',
  'control \u0001\u0007\u001B[31m',
  '*alias',
  '&anchor',
  '!tag',
  '%directive',
  '@at',
  '`tick',
  '{flow: map}',
  '[flow, seq]',
  '? key',
  'x'.repeat(300),
  'word '.repeat(60),
  '---',
  '...',
  '\u2028separator\u2029',
]

function findings(count: number): Finding[] {
  return Array.from({length: count}, (_, i) => {
    const odd = (k: number) => ODD[(i * 7 + k) % ODD.length]
    const file = i % 3 === 0 ? undefined : i % 3 === 1 ? `dir/${odd(1)}.yaml` : '<stdin>'
    return {
      check: CHECKS[i % CHECKS.length].id,
      severity: SEVERITIES[i % SEVERITIES.length],
      resource: {kind: i % 5 === 0 ? 'Pod' : 'Deployment', namespace: i % 4 === 0 ? undefined : odd(2), name: odd(3)},
      container: odd(4),
      image: odd(5),
      message: `${odd(6)} (${i})`,
      fix: 'fix',
      ...(file === undefined ? {} : {file, line: i % 11 === 0 ? undefined : i}),
    }
  })
}

/** A sink that says "full" every few writes and drains later, like a slow pipe. */
class SlowSink extends EventEmitter {
  text = ''
  writes = 0
  refusals = 0
  write(chunk: string): boolean {
    this.text += chunk
    this.writes++
    if (this.writes % 3 !== 0) return true
    this.refusals++
    setTimeout(() => this.emit('drain'), 1)
    return false
  }
}

async function streamed(format: 'json' | 'yaml' | 'sarif' | 'table', list: Finding[], colour = false) {
  const sink = new SlowSink()
  const writer = reportWriter(format, sink, {colour, version: '1.2.3', rules: CHECKS})
  for (const [i, finding] of list.entries()) {
    writer.add(finding)
    if (i % 50 === 49) await writer.flush()
  }
  const summary = summarize(list, 4)
  await writer.end(summary, {workloads: 999, byShape: ['Rollout a/b'], skipped: 3})
  return {sink, summary}
}

describe('streamed audit reports', () => {
  for (const format of ['json', 'yaml', 'sarif', 'table'] as const) {
    for (const count of [0, 1, 2, 1500]) {
      it(`${format}, ${count} findings: byte-identical to the whole-document rendering`, async () => {
        const list = findings(count)
        const {sink, summary} = await streamed(format, list)
        const whole = renderAudit(format, list, summary, {
          colour: false,
          workloads: 999,
          version: '1.2.3',
          rules: CHECKS,
          byShape: ['Rollout a/b'],
          skipped: 3,
        })
        // Not through chai's diff: on a mismatch, point at the first differing byte.
        let at = 0
        while (at < whole.length && whole[at] === sink.text[at]) at++
        expect(at, `first difference at ${at}: ${JSON.stringify(sink.text.slice(at - 40, at + 40))}`).to.equal(
          Math.max(whole.length, sink.text.length),
        )
      })
    }
  }

  it('the table in colour is the same as the whole rendering', async () => {
    const list = findings(40)
    const {sink, summary} = await streamed('table', list, true)
    expect(sink.text).to.equal(
      renderAudit('table', list, summary, {
        colour: true,
        workloads: 999,
        version: '1',
        byShape: ['Rollout a/b'],
        skipped: 3,
      }),
    )
  })

  for (const format of ['json', 'yaml', 'sarif', 'table'] as const)
    it(`${format}: nothing reaches the sink before the first finding (a run that fails first prints nothing)`, async () => {
      const sink = new SlowSink()
      const writer = reportWriter(format, sink, {colour: false, version: '1', rules: CHECKS})
      await writer.flush()
      expect(sink.text).to.equal('')
      writer.add(findings(1)[0])
      await writer.flush()
      expect(sink.text === '').to.equal(format === 'table')
    })

  it('writes in chunks and waits for the sink to drain', async () => {
    const {sink} = await streamed('json', findings(1500))
    expect(sink.writes).to.be.greaterThan(3)
    expect(sink.refusals).to.be.greaterThan(0)
    // No chunk is the whole document.
    expect(sink.writes).to.be.greaterThan(sink.text.length / (64 * 1024))
  })

  it('a flush right after the drain does not wait for another (several clusters flush at once)', async () => {
    const sink = new EventEmitter() as EventEmitter & {write(chunk: string): boolean}
    let full = true
    sink.write = () => !full
    const report = reportWriter('json', sink, {colour: false, version: '0', rules: CHECKS})
    report.add({...findings(1)[0], message: 'x'.repeat(70 * 1024)})
    const first = report.flush()
    const second = report.flush()
    full = false
    sink.emit('drain')
    // Before the waiters above resume: this flush has nothing to send and the sink took the rest.
    const third = report.flush()
    const outcome = await Promise.race([
      Promise.all([first, second, third]).then(() => 'flushed'),
      new Promise((resolve) => {
        setTimeout(() => resolve('still waiting'), 500)
      }),
    ])
    expect(outcome).to.equal('flushed')
  })
})

describe('summaryReaches (--fail-on on a streamed report)', () => {
  const summary = (counts: Partial<Record<'critical' | 'high' | 'medium' | 'low' | 'info', number>>) => ({
    critical: 0,
    high: 0,
    medium: 0,
    low: 0,
    info: 0,
    total: 0,
    exempted: 0,
    ...counts,
  })
  it('counts the threshold and every severity above it, never below', () => {
    expect(summaryReaches(summary({medium: 1}), 'high')).to.equal(false)
    expect(summaryReaches(summary({medium: 1}), 'medium')).to.equal(true)
    expect(summaryReaches(summary({critical: 1}), 'low')).to.equal(true)
    expect(summaryReaches(summary({low: 3}), 'critical')).to.equal(false)
    expect(summaryReaches(summary({critical: 9}), 'none')).to.equal(false)
  })
  it('info fails a run only with --fail-on info', () => {
    for (const failOn of ['critical', 'high', 'medium', 'low', 'none'] as const)
      expect(summaryReaches(summary({info: 5}), failOn), failOn).to.equal(false)
    expect(summaryReaches(summary({info: 1}), 'info')).to.equal(true)
    expect(summaryReaches(summary({low: 1}), 'info')).to.equal(true)
  })
})

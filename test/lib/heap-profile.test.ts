import {expect} from 'chai'

import {HEAP_FLAGS, useHeapProfile} from '../../src/lib/heap-profile.js'

describe('heap profile of an audit', () => {
  let saved: string | undefined
  beforeEach(() => {
    saved = process.env.IMGSEC_V8_DEFAULTS
    delete process.env.IMGSEC_V8_DEFAULTS
  })
  afterEach(() => {
    if (saved === undefined) delete process.env.IMGSEC_V8_DEFAULTS
    else process.env.IMGSEC_V8_DEFAULTS = saved
  })

  it('keeps the young generation small only for streamed cluster reads', () => {
    const set: string[] = []
    useHeapProfile('stream', (flag) => set.push(flag))
    expect(set).to.deep.equal(['--semi-space-growth-factor=1', '--heap-growing-percent=50'])
    set.length = 0
    useHeapProfile('files', (flag) => set.push(flag))
    expect(set).to.deep.equal(['--heap-growing-percent=50'])
  })

  it('every flag is one V8 knows (V8 prints an error for an unknown one, and ignores it)', async () => {
    // V8 writes "Error: unrecognized flag" to the process's stderr: check in a child process.
    const {spawnSync} = await import('node:child_process')
    const flags = [...new Set(Object.values(HEAP_FLAGS).flat())]
    const script = `require('node:v8').setFlagsFromString(${JSON.stringify(flags.join(' '))})`
    const child = spawnSync(process.execPath, ['-e', script], {encoding: 'utf8'})
    expect(child.status).to.equal(0)
    expect(child.stderr + child.stdout).to.equal('')
    const unknown = spawnSync(
      process.execPath,
      ['-e', `require('node:v8').setFlagsFromString('--no-such-heap-flag=1')`],
      {
        encoding: 'utf8',
      },
    )
    expect(unknown.stderr).to.match(/unrecognized flag/)
  })

  it('IMGSEC_V8_DEFAULTS=1 leaves V8 alone (the benchmarks compare against it)', () => {
    process.env.IMGSEC_V8_DEFAULTS = '1'
    const set: string[] = []
    useHeapProfile('stream', (flag) => set.push(flag))
    expect(set).to.deep.equal([])
  })
})

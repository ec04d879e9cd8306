import {expect} from 'chai'

import {HEAP_FLAGS, heapProfileFor, useHeapProfile} from '../../src/lib/heap-profile.js'

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

  const cases: Array<[input: Parameters<typeof heapProfileFor>[0], profile: string]> = [
    [{files: false, archives: false, perImage: false}, 'pods'],
    [{files: true, archives: false, perImage: false}, 'documents'],
    [{files: false, archives: true, perImage: false}, 'documents'],
    // --inspect, --scan, --verify-signatures, --resolve-digests: image configs, reports, bundles are parsed whole.
    [{files: false, archives: false, perImage: true}, 'documents'],
    [{files: true, archives: true, perImage: true}, 'documents'],
  ]
  for (const [input, profile] of cases)
    it(`${JSON.stringify(input)} → ${profile}`, () => {
      expect(heapProfileFor(input)).to.equal(profile)
    })

  it('only a pods audit keeps the young generation from growing; both tighten the old generation', () => {
    const set: Record<string, string[]> = {pods: [], documents: []}
    useHeapProfile('pods', (flag) => set.pods.push(flag), '11.3.244.8-node.38')
    useHeapProfile('documents', (flag) => set.documents.push(flag), '11.3.244.8-node.38')
    expect(set.pods).to.include('--semi-space-growth-factor=1')
    expect(set.documents).to.not.include('--semi-space-growth-factor=1')
    for (const flags of Object.values(set)) expect(flags).to.include('--heap-growing-percent=50')
  })

  it("another V8 (Node 22's, 24's) keeps its own sizing: no flag is set", () => {
    const set: string[] = []
    for (const version of ['12.4.254.21-node.33', '13.6.233.10-node.28', '10.2.154.26-node.36'])
      useHeapProfile('pods', (flag) => set.push(flag), version)
    expect(set).to.deep.equal([])
  })

  it('IMGSEC_V8_DEFAULTS=1 leaves V8 alone (the benchmarks and tests compare against it)', () => {
    process.env.IMGSEC_V8_DEFAULTS = '1'
    const set: string[] = []
    useHeapProfile('pods', (flag) => set.push(flag), '11.3.244.8-node.38')
    expect(set).to.deep.equal([])
  })

  it('every flag is one this V8 knows (V8 prints an error for an unknown one, and ignores it)', async () => {
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
      {encoding: 'utf8'},
    )
    expect(unknown.stderr).to.match(/unrecognized flag/)
  })
})

import {expect} from 'chai'
import {mkdtempSync, readdirSync, utimesSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import path from 'node:path'

import {memoryLayerStore} from '../../../src/lib/image/inspect-image.js'
import {defaultLayerCacheDir, diskLayerStore, evict} from '../../../src/lib/image/layer-cache.js'

const digest = (n: number) => `sha256:${String(n).padStart(64, '0')}`
const entries = (n: number) => ({files: [`bin/f${n}`], special: {}, whiteouts: [], opaque: []})

describe('layer cache on disk', () => {
  it('keeps entries by digest; a corrupt or foreign file is a miss', async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-lc-')), 'layers')
    const store = diskLayerStore(dir)
    expect(await store.get(digest(1))).to.equal(undefined)
    await store.set(digest(1), entries(1))
    expect(await store.get(digest(1))).to.deep.equal(entries(1))
    const [name] = readdirSync(dir)
    writeFileSync(path.join(dir, name), '{"files": "no"}')
    expect(await store.get(digest(1))).to.equal(undefined)
    writeFileSync(path.join(dir, name), '{')
    expect(await store.get(digest(1))).to.equal(undefined)
  })

  it('evicts the least recently used entries beyond the cap', async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-lc-')), 'layers')
    const size = Buffer.byteLength(JSON.stringify(entries(1)))
    const store = diskLayerStore(dir, size * 2)
    await store.set(digest(1), entries(1))
    await store.set(digest(2), entries(2))
    const files = readdirSync(dir).sort()
    // digest 1 older than 2, then used again: 2 is now the least recently used.
    utimesSync(path.join(dir, files[0]), new Date(1000), new Date(1000))
    utimesSync(path.join(dir, files[1]), new Date(2000), new Date(2000))
    expect(await store.get(digest(1))).to.deep.equal(entries(1))
    await store.set(digest(3), entries(3))
    expect(await store.get(digest(2))).to.equal(undefined)
    expect(await store.get(digest(1))).to.deep.equal(entries(1))
    expect(await store.get(digest(3))).to.deep.equal(entries(3))
    expect(evict(dir, 0)).to.equal(0)
    expect(readdirSync(dir)).to.deep.equal([])
  })

  it('a cache that cannot be written is only slower: no error, a miss next time', async () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'imgsec-lc-'))
    // A file where the directory should be: mkdir fails even for root.
    writeFileSync(path.join(parent, 'layers'), 'not a directory')
    const store = diskLayerStore(path.join(parent, 'layers'))
    expect(await store.set(digest(1), entries(1))).to.equal(false)
    expect(await store.get(digest(1))).to.equal(undefined)
    // The run's store then keeps the entries in memory: the layer is not read twice.
    const run = memoryLayerStore(store)
    await run.set(digest(1), entries(1))
    expect(await run.get(digest(1))).to.deep.equal(entries(1))
  })

  it("the run's store writes through to the disk cache", async () => {
    const disk = diskLayerStore(path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-lc-')), 'layers'))
    const run = memoryLayerStore(disk)
    await run.set(digest(5), entries(5))
    expect(await disk.get(digest(5))).to.deep.equal(entries(5))
    expect(await run.get(digest(5))).to.deep.equal(entries(5))
  })

  it('lives under $XDG_CACHE_HOME, else ~/.cache', () => {
    expect(defaultLayerCacheDir({XDG_CACHE_HOME: '/x/cache'})).to.equal('/x/cache/kubectl-imgsec/layers')
    expect(defaultLayerCacheDir({XDG_CACHE_HOME: 'relative'})).to.equal(
      path.join(homedir(), '.cache', 'kubectl-imgsec', 'layers'),
    )
    expect(defaultLayerCacheDir({})).to.equal(path.join(homedir(), '.cache', 'kubectl-imgsec', 'layers'))
  })
})

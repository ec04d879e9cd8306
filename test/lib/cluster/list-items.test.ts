import {expect} from 'chai'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import {ListItemSplitter} from '../../../src/lib/cluster/list-items.js'
import {streamRawList} from '../../../src/lib/cluster/kube-client.js'
import type {ApiReader} from '../../../src/lib/cluster/api-reader.js'

/** Split `text` into pieces of `size` (the last shorter), fed one by one. */
function split(text: string, size: number): {items: unknown[]; rest: Record<string, unknown>} {
  const items: unknown[] = []
  const splitter = new ListItemSplitter((item) => items.push(item))
  for (let i = 0; i < text.length; i += size) splitter.push(text.slice(i, i + size))
  return {items, rest: splitter.end()}
}

/** A deterministic pseudo-random JSON value with the strings that trip scanners: quotes, backslashes, brackets. */
function randomValue(seed: {n: number}, depth = 0): unknown {
  const next = () => (seed.n = (seed.n * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  const strings = ['', 'a', '"', '\\', '\\"', '\\\\', '}]', '{[', 'items', 'ünï', 'line\nbreak', 'x'.repeat(40)]
  const r = next()
  if (depth > 3 || r < 0.3) return strings[Math.floor(next() * strings.length)] + (r < 0.1 ? '"\\' : '')
  if (r < 0.4) return Math.floor(next() * 1000) - 500
  if (r < 0.45) return [true, false, null][Math.floor(next() * 3)]
  if (r < 0.7) return Array.from({length: Math.floor(next() * 4)}, () => randomValue(seed, depth + 1))
  const object: Record<string, unknown> = {}
  for (let i = Math.floor(next() * 4); i > 0; i--)
    object[strings[Math.floor(next() * strings.length)] + i] = randomValue(seed, depth + 1)
  return object
}

describe('ListItemSplitter: a list answer read item by item as it arrives', () => {
  it('gives the items and the other fields JSON.parse gives, however the text is cut', () => {
    const seed = {n: 42}
    for (let round = 0; round < 60; round++) {
      const items = Array.from({length: round % 7}, () => randomValue(seed))
      const value = {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: {resourceVersion: '7', continue: round % 2 ? 'token"\\' : undefined, items: [1]},
        items,
        after: {items: 'not these'},
        note: 'items'.repeat(30),
      }
      const text = JSON.stringify(value, null, round % 3 === 0 ? 2 : undefined)
      for (const size of [1, 2, 3, 7, 64, text.length]) {
        const {items: got, rest} = split(text, size)
        expect(got, `round ${round}, pieces of ${size}`).to.deep.equal(JSON.parse(JSON.stringify(items)))
        expect(rest, `round ${round}, pieces of ${size}`).to.deep.equal({...JSON.parse(text), items: []})
      }
    }
  })

  it('an escaped quote, or a run of backslashes, cut between two pieces', () => {
    const text = JSON.stringify({items: [{a: 'x\\"y'}, {b: 'z\\\\'}, 'w\\\\\\"v'], metadata: {continue: 'c'}})
    for (let cut = 1; cut < text.length; cut++) {
      const items: unknown[] = []
      const splitter = new ListItemSplitter((item) => items.push(item))
      splitter.push(text.slice(0, cut))
      splitter.push(text.slice(cut))
      expect(splitter.end().metadata, `cut at ${cut}`).to.deep.equal({continue: 'c'})
      expect(items, `cut at ${cut}`).to.deep.equal([{a: 'x\\"y'}, {b: 'z\\\\'}, 'w\\\\\\"v'])
    }
  })

  it('items that are not a list, no items, an escaped key: what JSON.parse gives', () => {
    expect(split('{"items": null, "metadata": {}}', 5)).to.deep.equal({items: [], rest: {items: null, metadata: {}}})
    expect(split('{"metadata": {"continue": "x"}}', 4)).to.deep.equal({items: [], rest: {metadata: {continue: 'x'}}})
    expect(split('{"\\u0069tems": [1, 2]}', 3)).to.deep.equal({items: [1, 2], rest: {items: []}})
    expect(split('{"it\\\\ems": [1]}', 3)).to.deep.equal({items: [], rest: {'it\\ems': [1]}})
  })

  it('more than 1 MiB outside the items is refused (the rest is kept whole)', () => {
    expect(() => split(JSON.stringify({items: [], metadata: {big: 'x'.repeat(1_100_000)}}), 65_536)).to.throw(
      /too much outside its items/,
    )
  })

  it('a truncated or malformed answer throws a SyntaxError (never quoting it)', () => {
    for (const text of [
      '{"items": [{"a": 1}',
      '{"items": [{"a": canary-secret}]}',
      '["canary-secret"]',
      '{"items": [1]',
    ])
      expect(() => split(text, 3), text)
        .to.throw(SyntaxError)
        .and.satisfy((error: Error) => !error.message.includes('canary'))
  })
})

describe('streamRawList: items handed over as the answer arrives', () => {
  let server: Server
  let answer: (res: import('node:http').ServerResponse) => void
  let client: ApiReader
  before(async () => {
    server = createServer((_req, res) => answer(res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as AddressInfo
    client = {
      server: `http://127.0.0.1:${port}`,
      requestTimeoutMs: 5000,
      requestOptions: async () => ({}),
    } as unknown as ApiReader
  })
  after(() => server.close())

  it('delivers items before the answer ends, waits for the consumer, returns metadata.continue', async () => {
    let release!: () => void
    const secondHalfSent = new Promise<void>((resolve) => (release = resolve))
    answer = (res) => {
      res.writeHead(200, {'content-type': 'application/json'})
      res.write('{"kind":"PodList","metadata":{"continue":"next"},"items":[{"n":1},{"n":2},')
      void secondHalfSent.then(() => res.end('{"n":3}]}'))
    }
    const batches: number[][] = []
    const rest = await streamRawList<{n: number}>(client, '/api/v1/pods', {limit: 2}, async (items) => {
      batches.push(items.map((item) => item.n))
      // The first items came before the rest of the answer was sent.
      if (batches.length === 1) release()
      await new Promise((resolve) => setTimeout(resolve, 10))
    })
    expect(batches.flat()).to.deep.equal([1, 2, 3])
    expect(batches[0]).to.deep.equal([1, 2])
    expect(rest.metadata?.continue).to.equal('next')
  })

  it('a body that is not JSON: the same "not JSON" error as a whole read, never the body', async () => {
    answer = (res) => {
      res.writeHead(200)
      res.end('{"items":[{"canary-secret": nope}]}')
    }
    const failure = await streamRawList(client, '/api/v1/pods', {}, () => {}).catch((error: Error) => error)
    expect(failure).to.be.instanceOf(Error)
    expect((failure as Error).message).to.equal('the answer to GET /api/v1/pods is not JSON')
    expect((failure as {notJson?: boolean}).notJson).to.equal(true)
  })

  it('an error status: code and the Status body, as client-node gives them', async () => {
    answer = (res) => {
      res.writeHead(403)
      res.end('{"kind":"Status","code":403,"message":"forbidden"}')
    }
    const failure = (await streamRawList(client, '/api/v1/pods', {}, () => {}).catch((error) => error)) as {
      code: number
      body: string
    }
    expect(failure.code).to.equal(403)
    expect(JSON.parse(failure.body).message).to.equal('forbidden')
  })

  it("the consumer's own failure ends the read with it", async () => {
    answer = (res) => {
      res.writeHead(200)
      res.end('{"items":[{"n":1}]}')
    }
    const failure = await streamRawList(client, '/x', {}, async () => {
      throw new Error('consumer broke')
    }).catch((error: Error) => error)
    expect((failure as Error).message).to.equal('consumer broke')
  })
})

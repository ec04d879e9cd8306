import {expect} from 'chai'

import {limitConcurrency} from '../../src/lib/concurrency.js'

describe('limitConcurrency', () => {
  it('runs at most max tasks at once, all of them, and passes results and failures through', async () => {
    const limit = limitConcurrency(2)
    let running = 0
    let most = 0
    const task = (value: number) =>
      limit(async () => {
        running++
        most = Math.max(most, running)
        await new Promise((resolve) => setTimeout(resolve, 5))
        running--
        if (value === 3) throw new Error('three')
        return value * 10
      })
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((value) => task(value)))
    expect(most).to.equal(2)
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).to.deep.equal([
      10,
      20,
      'three',
      40,
      50,
    ])
  })
})

import {expect} from 'chai'

import {pollUntil} from '../../src/lib/poll.js'

describe('pollUntil', () => {
  it('returns the first value that is not undefined, after as many attempts as it took', async () => {
    let attempts = 0
    const value = await pollUntil(async () => (++attempts === 3 ? 'ready' : undefined), {
      timeoutMs: 2000,
      intervalMs: 5,
    })
    expect(value).to.equal('ready')
    expect(attempts).to.equal(3)
  })

  it('returns undefined when the time runs out, having tried more than once', async () => {
    let attempts = 0
    const started = Date.now()
    const value = await pollUntil(
      async () => {
        attempts++
        return undefined
      },
      {timeoutMs: 60, intervalMs: 10},
    )
    expect(value).to.equal(undefined)
    expect(attempts).to.be.greaterThan(1)
    expect(Date.now() - started).to.be.at.least(60)
  })

  it('a falsy value that is not undefined ends the polling', async () => {
    expect(await pollUntil(async () => false, {timeoutMs: 1000, intervalMs: 5})).to.equal(false)
  })

  it('an attempt that throws ends the polling with its error', async () => {
    let error: Error | undefined
    await pollUntil(
      async () => {
        throw new Error('boom')
      },
      {timeoutMs: 1000, intervalMs: 5},
    ).catch((caught: Error) => {
      error = caught
    })
    expect(error?.message).to.equal('boom')
  })
})

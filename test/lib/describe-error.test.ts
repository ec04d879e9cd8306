import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {parse} from 'yaml'

import {describeFailure} from '../../src/lib/describe-error.js'
import {UserError} from '../../src/lib/errors.js'

const CANARY = 'TopSecret99-describe-canary'

function caught(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('did not throw')
}

describe('describeFailure: any failure in words, never a raw code or quoted input', () => {
  it('a file system error: the path and the code in words', () => {
    const error = caught(() => readFileSync('/nonexistent/imgsec.crt'))
    expect(describeFailure(error)).to.equal('/nonexistent/imgsec.crt: no such file or directory')
  })
  it('a network error, also behind a cause: words only', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {code: 'ECONNREFUSED'})
    expect(describeFailure(refused)).to.equal('connection refused')
    expect(describeFailure(new TypeError('fetch failed', {cause: refused}))).to.equal('connection refused')
  })
  it('a TLS failure by its kind', () => {
    const error = Object.assign(new Error('self-signed certificate'), {code: 'DEPTH_ZERO_SELF_SIGNED_CERT'})
    expect(describeFailure(error)).to.equal('TLS verification failed (DEPTH_ZERO_SELF_SIGNED_CERT)')
  })
  it('a timeout', () => {
    expect(describeFailure(Object.assign(new Error('This operation was aborted'), {name: 'AbortError'}))).to.equal(
      'timed out',
    )
  })
  it('an errno we have no words for: named as a failure, not as Node wrote it', () => {
    const error = Object.assign(new Error(`EXDEV: cross-device link not permitted, rename '${CANARY}'`), {
      code: 'EXDEV',
    })
    expect(describeFailure(error)).to.equal('failed (EXDEV)')
  })
  it('parser errors never quote their input', () => {
    const json = caught(() => JSON.parse(`{"password": ${CANARY}}`))
    expect(describeFailure(json)).to.not.contain(CANARY)
    const yaml = caught(() => parse(`password: "${CANARY}\\q"`))
    expect(describeFailure(yaml)).to.not.contain(CANARY)
    expect(describeFailure(yaml)).to.match(/^input that is not valid YAML \(line 1, column \d+: /)
  })
  it('our own errors as written, first line only', () => {
    expect(describeFailure(new UserError('--ca-file x is not a PEM certificate'))).to.equal(
      '--ca-file x is not a PEM certificate',
    )
    expect(describeFailure(new Error('first\nsecond'))).to.equal('first')
  })
})

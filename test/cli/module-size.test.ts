import {expect} from 'chai'
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {ROOT} from '../support/cli.js'

// Issue 14's rule: no source module over about 300 lines unless it says at its top why.
const LIMIT = 300
const REASON = /^\/\/ Longer than 300 lines because /m

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(file)
    return entry.name.endsWith('.ts') ? [file] : []
  })
}

describe('module size (src/)', () => {
  it(`every module has at most ${LIMIT} lines, or says in its first lines why it is longer`, () => {
    const files = sourceFiles(path.join(ROOT, 'src'))
    expect(files.length).to.be.greaterThan(80)
    const tooLong = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8')
      const lines = text.split('\n').length
      const head = text.split('\n').slice(0, 8).join('\n')
      return lines > LIMIT && !REASON.test(head) ? [`${path.relative(ROOT, file)}: ${lines} lines`] : []
    })
    expect(tooLong).to.deep.equal([])
  })
})

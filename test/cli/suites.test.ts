import {expect} from 'chai'
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {ROOT} from '../support/cli.js'

// `npm test` runs three mocha configs, each with its own spec globs: a test file outside all of
// them would never run. Every *.test.ts under test/ must match exactly one.
function testFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : testFiles(file)
    return entry.name.endsWith('.test.ts') ? [path.relative(ROOT, file)] : []
  })
}

/** The globs these configs use: `dir/**\/*.test.ts` (any depth) and `dir/*.test.ts`. */
function matches(glob: string, file: string): boolean {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace('**/', '\u0000')
    .replace(/\*/g, '[^/]*')
    .replace('\u0000', '(?:.*/)?')
  return new RegExp(`^${pattern}$`).test(file)
}

describe('test suites (npm test runs .mocharc.unit/e2e/k8s.json)', () => {
  const suites = ['unit', 'e2e', 'k8s'].map((name) => ({
    name,
    spec: JSON.parse(readFileSync(path.join(ROOT, `.mocharc.${name}.json`), 'utf8')).spec as string[],
  }))
  const files = testFiles(path.join(ROOT, 'test'))

  it('finds the test files', () => {
    expect(files.length).to.be.greaterThan(50)
    expect(files).to.include('test/cli/suites.test.ts')
  })

  it('every test file is in exactly one suite', () => {
    const misplaced = files.flatMap((file) => {
      const owners = suites.filter((suite) => suite.spec.some((glob) => matches(glob, file))).map((suite) => suite.name)
      return owners.length === 1
        ? []
        : [`${file}: ${owners.length === 0 ? 'in no suite' : `in ${owners.join(' and ')}`}`]
    })
    expect(misplaced).to.deep.equal([])
  })
})

import {expect} from 'chai'
import {readdirSync} from 'node:fs'
import path from 'node:path'

import {COMMANDS} from '../../src/commands-index.js'
import {ROOT} from '../support/cli.js'

/** Command ids as oclif discovers them from src/commands (package.json "oclif.commands"). */
function discovered(dir: string, prefix: string[] = []): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) =>
    entry.isDirectory()
      ? discovered(path.join(dir, entry.name), [...prefix, entry.name])
      : entry.name.endsWith('.ts')
        ? [[...prefix, entry.name.replace(/\.ts$/, '')].join(':')]
        : [],
  )
}

describe('the two command registries', () => {
  it("the bundle's explicit index lists exactly the commands oclif discovers in src/commands", () => {
    expect(Object.keys(COMMANDS).sort()).to.deep.equal(discovered(path.join(ROOT, 'src', 'commands')).sort())
  })
})

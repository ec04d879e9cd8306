import {expect} from 'chai'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {UndoJournal} from '../../../src/lib/controlplane/undo-journal.js'

describe('UndoJournal', () => {
  it('puts files, directories and other steps back as they were, newest first', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'imgsec-undo-'))
    const kept = path.join(root, 'kept.yaml')
    writeFileSync(kept, 'before\n')
    chmodSync(kept, 0o640)
    const journal = new UndoJournal()
    const order: string[] = []
    journal.add('first', () => order.push('first'))
    journal.rememberFile(kept)
    writeFileSync(kept, 'after\n')
    journal.rememberFile(kept) // the first remembered content wins
    const created = path.join(root, 'a', 'b', 'new.key')
    journal.rememberDir(path.dirname(created))
    mkdirSync(path.dirname(created), {recursive: true})
    journal.rememberFile(created)
    writeFileSync(created, 'secret')
    const other = path.join(root, 'a', 'other')
    journal.add('second', () => order.push('second'))
    journal.add('broken', () => {
      throw new Error('the API server said no\nsecond line')
    })
    const problems = await journal.rollback()
    expect(order).to.deep.equal(['second', 'first'])
    expect(problems).to.deep.equal(['broken: the API server said no'])
    expect(readFileSync(kept, 'utf8')).to.equal('before\n')
    expect(statSync(kept).mode & 0o777).to.equal(0o640)
    expect(existsSync(created)).to.equal(false)
    expect(existsSync(path.join(root, 'a'))).to.equal(false)
    expect(existsSync(root)).to.equal(true)
    expect(existsSync(other)).to.equal(false)
    expect(await journal.rollback(), 'a second rollback has nothing left to do').to.deep.equal([])
  })

  it('leaves a created directory that holds something it did not write', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'imgsec-undo-'))
    const dir = path.join(root, 'config')
    const journal = new UndoJournal()
    journal.rememberDir(dir)
    mkdirSync(dir)
    writeFileSync(path.join(dir, 'someone-elses'), 'x')
    expect(await journal.rollback()).to.deep.equal([])
    expect(existsSync(path.join(dir, 'someone-elses'))).to.equal(true)
  })
})

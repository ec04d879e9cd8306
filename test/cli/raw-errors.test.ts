import {expect} from 'chai'
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

// Node's messages carry codes ("ENOENT: no such file or directory, open '/x'") and parsers' messages
// quote their input: a line a user reads gets a failure through src/lib/describe-error.ts. This
// finds the shapes that put an error's own message or code into a string elsewhere.
const RAW = [
  /\(error as (?:Error|NodeJS\.ErrnoException)\)\.message/,
  /\(error as NodeJS\.ErrnoException\)\.code \?\?/,
  /error\.code \?\? error\.message/,
]
// Where an error's message is not shown to a user as is: the describers themselves, and the
// webhook's internal log line (structured, for the operator's log pipeline).
// kube-client.ts shows client-node's message only when it is "users[0].name is missing".
const ALLOWED = new Set([
  'src/lib/describe-error.ts',
  'src/lib/network-errors.ts',
  'src/lib/webhook/webhook-server.ts',
  'src/lib/cluster/kube-client.ts',
])

function sources(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    return entry.isDirectory() ? sources(file) : file.endsWith('.ts') ? [file] : []
  })
}

describe('no raw error message or code in what a user reads', () => {
  it('src/ describes failures through describe-error.ts', () => {
    const found: string[] = []
    for (const file of sources('src')) {
      if (ALLOWED.has(file)) continue
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, index) => {
          if (RAW.some((pattern) => pattern.test(line))) found.push(`${file}:${index + 1}: ${line.trim()}`)
        })
    }
    expect(found).to.deep.equal([])
  })
})

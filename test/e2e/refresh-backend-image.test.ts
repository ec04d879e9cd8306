import {expect} from 'chai'
import {copyFileSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {ROOT, runProgram} from '../support/cli.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../support/registry.js'

const PIN_FILE = path.join(ROOT, 'src/lib/whitelist/default-backend-image.ts')
const SCRIPT = path.join(ROOT, 'scripts/refresh-backend-image.ts')
const refresh = (args: string[]) => runProgram(process.execPath, ['--import', 'tsx', SCRIPT, ...args])

describe('scripts/refresh-backend-image.ts', () => {
  let registry: RunningRegistry
  let dir: string
  let file: string
  before(async function () {
    requireRegistry(this, 'the refresh-backend-image e2e tests')
    registry = await startRegistry({})
  })
  after(async () => registry?.stop())
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-refresh-'))
    file = path.join(dir, 'default-backend-image.ts')
    copyFileSync(PIN_FILE, file)
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('rewrites the pinned digest and its provenance with what the registry gives for the tag', async () => {
    const pushed = await registry.pushImage('distroless/nodejs22-debian12', 'nonroot')
    const source = `${registry.host}/distroless/nodejs22-debian12:nonroot`
    const result = await refresh(['--from', source, '--file', file])
    expect(result.stderr).to.equal('')
    expect(result.code).to.equal(0)
    expect(result.stdout).to.contain(`→ ${pushed.digest}`)
    const text = readFileSync(file, 'utf8')
    expect(text).to.contain(`export const DEFAULT_BACKEND_DIGEST = '${pushed.digest}'\n`)
    expect(text).to.contain(`resolved from ${source} by scripts/refresh-backend-image.ts on`)
    expect(text).to.not.contain('garoon')
    // Everything else of the file is kept: the source constant and the comment's head.
    expect(text).to.contain("export const DEFAULT_BACKEND_SOURCE = {registry: 'gcr.io'")
    expect(text.split('\n')[0]).to.equal(readFileSync(PIN_FILE, 'utf8').split('\n')[0])
    // A second run finds the same digest.
    const again = await refresh(['--from', source, '--file', file])
    expect(again.stdout).to.equal(`${source} is still ${pushed.digest}\n`)
  })

  it('an unreachable registry: one error line, exit 1, the file untouched', async () => {
    const before = readFileSync(file, 'utf8')
    const result = await refresh(['--from', '127.0.0.1:1/distroless/nodejs22-debian12:nonroot', '--file', file])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(
      /^error: cannot resolve 127\.0\.0\.1:1\/distroless\/nodejs22-debian12:nonroot: .+\n$/,
    )
    expect(readFileSync(file, 'utf8')).to.equal(before)
  })
})

import {expect} from 'chai'
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

// Start-up cost (issue 13): what a command loads before its first API call is what its static
// imports reach. The Sigstore and X.509 libraries cost about 130 ms to load; only the code that
// verifies signatures may import them (dynamically, or from modules the commands reach only so).
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src')
const HEAVY = /^(@sigstore\/|@peculiar\/|reflect-metadata$|@kubernetes\/client-node$)/

/**
 * Value-level imports of a file: `import type` is erased. A command's own `import()` (its Run step
 * loading the library) counts; in src/lib an `import()` is the lazy path, loaded only when needed.
 */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const specs: string[] = []
  for (const match of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gms))
    if (!match[1]) specs.push(match[2])
  if (!path.relative(SRC, file).startsWith('lib'))
    for (const match of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(match[1])
  return specs
}

/** Every module a file loads, following relative imports: packages as named, files under src/. */
function closure(entry: string): Set<string> {
  const seen = new Set<string>()
  const queue = [entry]
  while (queue.length > 0) {
    const file = queue.pop()!
    for (const spec of staticImports(file)) {
      if (!spec.startsWith('.')) {
        seen.add(spec)
        continue
      }
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts')
      if (seen.has(target) || !existsSync(target)) continue
      seen.add(target)
      queue.push(target)
    }
  }
  return seen
}

describe('start-up imports (issue 13)', () => {
  it('finds static imports and skips type-only and dynamic ones', () => {
    const audit = closure(path.join(SRC, 'commands', 'audit', 'images.ts'))
    expect([...audit]).to.include('@oclif/core')
    expect([...audit].some((file) => file.endsWith(path.join('cli', 'base-command.ts')))).to.equal(true)
    // verify.ts imports the Sigstore libraries: the test can see them when they are there.
    const verify = [...closure(path.join(SRC, 'lib', 'signature', 'verify.ts'))].filter((spec) => HEAVY.test(spec))
    expect(verify).to.include('@sigstore/verify')
  })

  for (const entry of [
    'commands/audit/images.ts',
    'commands/create-regcred.ts',
    'commands/whitelist/status.ts',
    'commands/whitelist/add-registry.ts',
    'commands/whitelist/enable.ts',
    'lib/policy/policy-file.ts',
    'lib/audit/audit-run.ts',
  ])
    it(`${entry} loads no Sigstore, X.509 or client-node library before it needs one`, () => {
      const heavy = [...closure(path.join(SRC, entry))].filter((spec) => HEAVY.test(spec))
      expect(heavy, `static imports from ${entry}`).to.deep.equal([])
    })
})

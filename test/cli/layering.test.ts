import {expect} from 'chai'
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

// The import rules docs/architecture.md draws: commands → cli → lib/<concern> → lib primitives,
// never upwards, and no cycle between concerns.
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(file)
    return entry.name.endsWith('.ts') ? [file] : []
  })
}

/** Relative imports of a file, as paths under src/ (`lib/audit/audit.ts`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((match) => match[1])
  return specs.map((spec) => path.relative(SRC, path.resolve(path.dirname(file), spec)).replace(/\.js$/, '.ts'))
}

/** `cli`, `commands`, `lib` (a primitive at lib's root), `lib/<concern>`, or `root`. */
function layerOf(relative: string): string {
  const parts = relative.split(path.sep)
  if (parts.length === 1) return 'root'
  if (parts[0] !== 'lib') return parts[0]
  return parts.length === 2 ? 'lib' : `lib/${parts[1]}`
}

const files = sourceFiles(SRC)
const edges = files.flatMap((file) => {
  const from = path.relative(SRC, file)
  return importsOf(file).map((to) => ({from, to, fromLayer: layerOf(from), toLayer: layerOf(to)}))
})

describe('layering of src/ (docs/architecture.md)', () => {
  it('finds the concerns the architecture names, and imports between them', () => {
    const concerns = new Set(
      files.map((file) => layerOf(path.relative(SRC, file))).filter((layer) => layer.startsWith('lib/')),
    )
    expect([...concerns].sort()).to.deep.equal([
      'lib/audit',
      'lib/cluster',
      'lib/controlplane',
      'lib/image',
      'lib/policy',
      'lib/regcred',
      'lib/signature',
      'lib/webhook',
      'lib/whitelist',
    ])
    expect(edges.length).to.be.greaterThan(100)
  })

  it('src/lib never imports src/cli or src/commands', () => {
    const upward = edges.filter((edge) => edge.fromLayer.startsWith('lib') && !edge.toLayer.startsWith('lib'))
    expect(upward.map((edge) => `${edge.from} → ${edge.to}`)).to.deep.equal([])
  })

  it('the primitives at src/lib/*.ts import no concern', () => {
    const upward = edges.filter((edge) => edge.fromLayer === 'lib' && edge.toLayer !== 'lib')
    expect(upward.map((edge) => `${edge.from} → ${edge.to}`)).to.deep.equal([])
  })

  it('src/cli never imports src/commands', () => {
    const upward = edges.filter((edge) => edge.fromLayer === 'cli' && edge.toLayer === 'commands')
    expect(upward.map((edge) => `${edge.from} → ${edge.to}`)).to.deep.equal([])
  })

  it('no cycle between concerns', () => {
    const graph = new Map<string, Set<string>>()
    for (const edge of edges) {
      if (!edge.fromLayer.startsWith('lib/') || !edge.toLayer.startsWith('lib/') || edge.fromLayer === edge.toLayer)
        continue
      graph.set(edge.fromLayer, (graph.get(edge.fromLayer) ?? new Set()).add(edge.toLayer))
    }
    const cycles: string[] = []
    const visit = (node: string, trail: string[]): void => {
      if (trail.includes(node)) {
        cycles.push([...trail.slice(trail.indexOf(node)), node].join(' → '))
        return
      }
      for (const next of graph.get(node) ?? []) visit(next, [...trail, node])
    }
    for (const node of graph.keys()) visit(node, [])
    expect(cycles).to.deep.equal([])
  })
})

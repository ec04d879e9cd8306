// The "yaml alone" baseline of the file-audit benchmark, as its own node process:
// node startup + ESM import of the project's `yaml` package + readFileSync of the file +
// parseAllDocuments() + document.toJS() of every document. Nothing else (no LineCounter,
// no Kubernetes logic, no output). Usage: node bench/yaml-alone.mjs FILE|DIR
// A directory: its files one at a time (sorted by name), each file's documents dropped before
// the next is read, as the file audit does.
import {readdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {parseAllDocuments} from 'yaml'

const file = process.argv[2]
if (!file) {
  process.stderr.write('usage: node bench/yaml-alone.mjs FILE\n')
  process.exit(2)
}
let objects = 0
const parse = (name) => {
  const documents = parseAllDocuments(readFileSync(name, 'utf8'))
  if (!Array.isArray(documents)) throw new Error('yaml: not a document stream')
  for (const document of documents) {
    if (document.errors.length > 0) throw document.errors[0]
    if (document.toJS() !== null) objects++
  }
  return documents
}
if (statSync(file).isDirectory()) {
  for (const name of readdirSync(file).sort()) parse(path.join(file, name))
} else {
  // Kept until exit, as the audit of one stream keeps them.
  globalThis.documents = parse(file)
}
if (process.env.BENCH_PRINT_COUNT) process.stderr.write(`${objects}\n`)

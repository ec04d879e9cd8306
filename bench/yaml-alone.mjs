// The "yaml alone" baseline of the file-audit benchmark, as its own node process:
// node startup + ESM import of the project's `yaml` package + readFileSync of the file +
// parseAllDocuments() + document.toJS() of every document. Nothing else (no LineCounter,
// no Kubernetes logic, no output). Usage: node bench/yaml-alone.mjs FILE
import {readFileSync} from 'node:fs'
import {parseAllDocuments} from 'yaml'

const file = process.argv[2]
if (!file) {
  process.stderr.write('usage: node bench/yaml-alone.mjs FILE\n')
  process.exit(2)
}
const documents = parseAllDocuments(readFileSync(file, 'utf8'))
if (!Array.isArray(documents)) throw new Error('yaml: not a document stream')
let objects = 0
for (const document of documents) {
  if (document.errors.length > 0) throw document.errors[0]
  if (document.toJS() !== null) objects++
}
if (process.env.BENCH_PRINT_COUNT) process.stderr.write(`${objects}\n`)

// Ask the registry which digest the default backend image's tag points to now and rewrite the
// pinned constant in src/lib/whitelist/default-backend-image.ts (with where and when it was read).
//
//   node --import tsx scripts/refresh-backend-image.ts [--from HOST/REPOSITORY:TAG] [--file F] [--ca-file F]
//
// --from asks a mirror instead of gcr.io (`crane copy` keeps digests, so a mirror of the same tag
// gives the same one). Uses the CLI's own registry client: the same auth flow and timeouts.
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import {safeErrorMessage} from '../src/lib/describe-error.js'
import {parseImageReference} from '../src/lib/image/image-reference.js'
import {resolveTagDigest} from '../src/lib/image/registry-client.js'
import {DEFAULT_BACKEND_SOURCE} from '../src/lib/whitelist/default-backend-image.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const {values} = parseArgs({
  options: {
    from: {type: 'string'},
    file: {type: 'string', default: path.join(root, 'src/lib/whitelist/default-backend-image.ts')},
    'ca-file': {type: 'string'},
  },
})

const source = values.from
  ? (() => {
      const reference = parseImageReference(values.from)
      return {registry: reference.registry, repository: reference.repository, tag: reference.tag ?? 'latest'}
    })()
  : DEFAULT_BACKEND_SOURCE
const name = `${source.registry}/${source.repository}:${source.tag}`

let digest: string
try {
  digest = await resolveTagDigest(source, {timeoutMs: 30_000, caFile: values['ca-file']})
} catch (error) {
  process.stderr.write(`error: cannot resolve ${name}: ${safeErrorMessage(error)}\n`)
  process.exit(1)
}

const file = values.file
const text = readFileSync(file, 'utf8')
const constant = /^export const DEFAULT_BACKEND_DIGEST = '(sha256:[a-f0-9]{64})'$/m
const previous = constant.exec(text)?.[1]
const provenance = / \* Provenance of the digest below:[\s\S]*?(?=\n \*\/)/
if (!previous || !provenance.test(text)) {
  process.stderr.write(`error: ${file} has no DEFAULT_BACKEND_DIGEST line or provenance paragraph to rewrite\n`)
  process.exit(1)
}
const date = new Date().toISOString().slice(0, 10)
const rewritten = text
  .replace(constant, `export const DEFAULT_BACKEND_DIGEST = '${digest}'`)
  .replace(
    provenance,
    ` * Provenance of the digest below: resolved from ${name} by scripts/refresh-backend-image.ts on\n * ${date}.`,
  )
writeFileSync(file, rewritten)
process.stdout.write(
  previous === digest ? `${name} is still ${digest}\n` : `${name}: ${previous} → ${digest} (${file})\n`,
)

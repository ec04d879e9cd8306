// How kubectl reads YAML (go-yaml v2's YAML 1.1 through sigs.k8s.io/yaml) and the per-document
// limits of the manifest reader: the decoding options, the alias and size limits, duplicate keys.
import {isScalar, type Node, type ScalarTag, type Tags} from 'yaml'

import type {ManifestReadError} from './manifest-sources.js'

/**
 * How kubectl decodes YAML (sigs.k8s.io/yaml over go-yaml v2): YAML 1.1 scalars (`yes`, `no`,
 * `on`, `off`, `y`, `n` are booleans; `0755` is octal), `<<` merge keys, and a duplicate key
 * keeps its last value. The parser's own warnings (e.g. a mapping used as a key, which is what
 * an unrendered `{{ … }}` is) are not printed: the shape check names them.
 */
export const KUBECTL_YAML_OPTIONS = {
  version: '1.1',
  merge: true,
  uniqueKeys: false,
  logLevel: 'error',
  customTags: goYamlTags,
} as const

// Words that YAML 1.1 reads as booleans or null. A plain scalar that starts with a letter and is
// not one of them can only be a string: every other tag's test wants a digit, a sign, `.`, `~`,
// `<` or nothing first.
const YAML11_WORDS = new Set(
  'y Y yes Yes YES true True TRUE on On ON n N no No NO false False FALSE off Off OFF null Null NULL'.split(' '),
)

/**
 * Answers "string" for most plain scalars (keys, names, images) with one character test and a set
 * lookup, before the parser tries the dozen regular expressions of the YAML 1.1 tags on each. The
 * result is what those tags give (a string, no format): test/lib/audit/manifest-yaml.test.ts
 * compares both on every kind of scalar. It is never used to write YAML (identify is false).
 */
const plainString: ScalarTag = {
  identify: () => false,
  default: true,
  tag: 'tag:yaml.org,2002:str',
  test: {
    test(text: string) {
      const letter = text.charCodeAt(0) | 32
      return letter >= 97 && letter <= 122 && !YAML11_WORDS.has(text)
    },
  } as RegExp,
  resolve: (text: string) => text,
}

// go-yaml v2 leaves YAML 1.1 timestamps (2001-12-14) and sexagesimal numbers (1:20) as strings
// and reads 0o12 as octal, like YAML 1.2.
// The parser builds a schema, and asks for its tags, once per document, with a copy of the same
// YAML 1.1 defaults each time: the answer for those tags is made once (the parser copies it).
let lastTags: {given: Tags; made: Tags} | undefined

function goYamlTags(tags: Tags): Tags {
  if (lastTags?.given.length === tags.length && lastTags.given.every((tag, i) => tag === tags[i])) return lastTags.made
  lastTags = {given: tags, made: makeGoYamlTags(tags)}
  return lastTags.made
}

function makeGoYamlTags(tags: Tags): Tags {
  const kept = tags.filter(
    (tag) =>
      !(typeof tag === 'object' && (tag.tag === 'tag:yaml.org,2002:timestamp' || (tag as ScalarTag).format === 'TIME')),
  )
  const octal: ScalarTag = {
    identify: (value) => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'OCT',
    test: /^[-+]?0o[0-7_]+$/,
    resolve: (text: string) =>
      (text.startsWith('-') ? -1 : 1) * Number.parseInt(text.replace(/^[-+]?0o/, '').replaceAll('_', ''), 8),
  }
  return [plainString, ...kept, octal]
}

/** Aliases one document may expand ("billion laughs" stops here, as a per-document error). */
export const MAX_ALIAS_COUNT = 1000

/**
 * The largest YAML document read: kube-apiserver refuses request bodies over 3 MiB
 * (k8s.io/apiserver, MaxRequestBodyBytes), so a larger document can never be applied, while the
 * YAML lexer alone needs seconds and hundreds of MB for it. It bounds the nodes of a document too.
 */
export const MAX_DOCUMENT_BYTES = 3 * 1024 * 1024

/**
 * The most nodes one YAML document may have, counted as its lines and flow-collection commas (a
 * node needs one or the other): a dense flow sequence of 3 MiB (`[1,1,1,…]`) has 1.4 million
 * nodes, and composing it took 9 s and 1.4 GB. No object the API server can store comes near:
 * etcd refuses values over 1.5 MiB, and ConfigMaps and Secrets are limited to 1 MiB.
 */
export const MAX_DOCUMENT_NODES = 200_000

/** Lines and commas between `start` and `end`: an upper bound of the nodes there, over two. */
function nodeMarks(text: string, start = 0, end = text.length): number {
  let marks = 0
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === 10 || c === 44) marks++
  }
  return marks
}

/**
 * Leave out each document over MAX_DOCUMENT_BYTES or MAX_DOCUMENT_NODES, with an error naming its line (even its
 * newlines: lexing them costs seconds). `shifts` maps later offsets and lines back to the file's,
 * for line numbers and byte-exact edits. Document markers at the start of a line (`---`, `...`) end
 * a document wherever they are: YAML forbids them inside scalars.
 */
export function withoutOversizedDocuments(text: string, file: string, errors: ManifestReadError[]) {
  const shifts: Array<{at: number; delta: number; lines: number}> = []
  // A text of at most MAX_DOCUMENT_NODES characters has no more marks than that (nor bytes over 3 MiB).
  if (text.length <= MAX_DOCUMENT_NODES) return {readable: text, shifts}
  if (Buffer.byteLength(text) <= MAX_DOCUMENT_BYTES && nodeMarks(text) <= MAX_DOCUMENT_NODES)
    return {readable: text, shifts}
  const starts = [0, ...[...text.matchAll(/^(?:---|\.\.\.)(?=[ \t\r\n]|$)/gm)].map((m) => m.index + 3)]
  const parts: string[] = []
  let taken = 0
  let delta = 0
  let lines = 0
  starts.forEach((start, index) => {
    const end = index + 1 < starts.length ? starts[index + 1] - 3 : text.length
    const bytes = Buffer.byteLength(text.slice(start, end))
    const marks = bytes > MAX_DOCUMENT_BYTES ? 0 : nodeMarks(text, start, end)
    if (bytes <= MAX_DOCUMENT_BYTES && marks <= MAX_DOCUMENT_NODES) return
    const content = start + Math.max(0, text.slice(start, start + 4096).search(/\S/))
    errors.push({
      file,
      line: text.slice(0, content).split('\n').length,
      message:
        bytes > MAX_DOCUMENT_BYTES
          ? `YAML document of ${(bytes / 1024 / 1024).toFixed(1)} MiB is over the limit of 3 MiB per document (kube-apiserver refuses larger requests); document not audited`
          : `YAML document with ${marks} lines and commas is over the limit of ${MAX_DOCUMENT_NODES} per document (its nodes; no object the API server stores comes near); document not audited`,
    })
    // One newline stays, so the next marker still starts a line.
    parts.push(text.slice(taken, start), '\n')
    delta += end - start - 1
    lines += text.slice(start, end).split('\n').length - 2
    shifts.push({at: start - (delta - (end - start - 1)) + 1, delta, lines})
    taken = end
  })
  parts.push(text.slice(taken))
  return {readable: parts.join(''), shifts}
}

/**
 * The options to parse as kubectl does, and the offsets of the duplicate keys found while parsing
 * (go-yaml v2 keeps the last value; we warn). The parser asks `uniqueKeys` about each earlier key
 * of a mapping as it adds a key: answering "not equal" keeps the last-wins reading and costs no
 * second walk of the document. A `<<` merge key is not a key of its own.
 */
export function kubectlYamlParse() {
  const duplicates = new Set<number>()
  const uniqueKeys = (earlier: Node, key: Node) => {
    if (
      isScalar(earlier) &&
      isScalar(key) &&
      key.range &&
      earlier.value !== '<<' &&
      (earlier.value === key.value || (Number.isNaN(earlier.value) && Number.isNaN(key.value)))
    )
      duplicates.add(key.range[0])
    return false
  }
  return {options: {...KUBECTL_YAML_OPTIONS, uniqueKeys}, duplicates}
}

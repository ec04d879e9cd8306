// Text splices at the offsets the YAML parser reports: how the kube-apiserver manifest is edited
// without re-serialising it (comments, quoting, indentation and order survive).
import {type Document, isMap, isScalar, type Node, type Scalar, type YAMLSeq} from 'yaml'

import {UserError} from '../errors.js'

export function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1
}

export function lineEnd(text: string, offset: number): number {
  const end = text.indexOf('\n', offset)
  return end < 0 ? text.length : end + 1
}

/** A scalar in the quoting style of `like` (a neighbour), plain when that is safe. */
export function renderScalar(value: string, like?: Scalar, flow = false): string {
  const type = like?.type
  if (type === 'QUOTE_DOUBLE') return JSON.stringify(value)
  if (type === 'QUOTE_SINGLE') return `'${value.replaceAll("'", "''")}'`
  // A plain scalar must not start with a YAML indicator or contain ': ' / ' #'; in a flow
  // sequence it must not contain the flow indicators either.
  const unsafeStart = /^[-?:,[\]{}#&*!|>'"%@`]/.test(value) && !value.startsWith('--')
  if (unsafeStart || /: | #|^\s|\s$/.test(value) || value === '' || (flow && /[,[\]{}]/.test(value)))
    return JSON.stringify(value)
  return value
}

export function replaceScalar(text: string, node: Scalar, value: string, flow: boolean): string {
  const [start, end] = node.range!
  return text.slice(0, start) + renderScalar(value, node, flow) + text.slice(end)
}

/** The '-' that introduces a block sequence item. */
export function dashOffset(text: string, itemStart: number): number {
  let i = itemStart - 1
  while (i >= 0 && text[i] !== '-') i--
  return i
}

export function isFlow(seq: YAMLSeq): boolean {
  return Boolean(seq.flow)
}

/** Append a scalar item to a sequence, in the sequence's own style. */
export function appendScalar(text: string, seq: YAMLSeq, value: string): string {
  const last = seq.items[seq.items.length - 1] as Node | undefined
  if (isFlow(seq) || !last) {
    const [, end] = seq.range!
    const close = text.lastIndexOf(']', end)
    const rendered = renderScalar(value, isScalar(last) ? last : undefined, true)
    return text.slice(0, close) + (last ? `, ${rendered}` : rendered) + text.slice(close)
  }
  const dash = dashOffset(text, last.range![0])
  const prefix = text.slice(lineStart(text, dash), last.range![0])
  const insertAt = lineEnd(text, last.range![1] - 1)
  const like = isScalar(last) ? last : undefined
  const newline = insertAt === text.length && !text.endsWith('\n') ? '\n' : ''
  return (
    text.slice(0, insertAt) +
    newline +
    `${prefix}${renderScalar(value, like?.type === 'PLAIN' ? undefined : like)}\n` +
    text.slice(insertAt)
  )
}

/** The document's indentation step, read off the first nested mapping under `metadata` (2 by default). */
export function indentStep(text: string, doc: Document.Parsed): number {
  const metadata = doc.get('metadata', true)
  const first = isMap(metadata) ? (metadata.items[0]?.key as Node | undefined) : undefined
  if (!first?.range || !isMap(metadata) || metadata.flow) return 2
  return first.range[0] - lineStart(text, first.range[0]) || 2
}

/** Append a block mapping item to a block sequence; `lines` are written with 2-space nesting and re-indented to the document's step. */
export function appendMapping(text: string, seq: YAMLSeq, lines: string[], step: number): string {
  const last = seq.items[seq.items.length - 1] as Node | undefined
  if (!last || isFlow(seq))
    throw new UserError('cannot add to an empty or flow-style list in the manifest; add the volume by hand')
  const dash = dashOffset(text, last.range![0])
  const start = lineStart(text, dash)
  const prefix = text.slice(start, last.range![0])
  const continuation = ' '.repeat(prefix.length)
  const insertAt = lineEnd(text, last.range![1] - 1)
  const reindent = (line: string) => {
    const depth = (line.length - line.trimStart().length) / 2
    return ' '.repeat(depth * step) + line.trimStart()
  }
  const block = lines.map((line, i) => (i === 0 ? prefix : continuation) + reindent(line)).join('\n') + '\n'
  return text.slice(0, insertAt) + block + text.slice(insertAt)
}

/** Remove item `index` of a sequence, its whole lines for a block sequence. */
export function removeItem(text: string, seq: YAMLSeq, index: number): string {
  const item = seq.items[index] as Node
  if (isFlow(seq)) {
    const [start, end] = item.range!
    const before = text.lastIndexOf(',', start)
    const from = index > 0 && before >= seq.range![0] ? before : start
    let to = end
    if (index === 0 && seq.items.length > 1) to = text.indexOf(',', end) + 1
    while (index === 0 && seq.items.length > 1 && text[to] === ' ') to++
    return text.slice(0, from) + text.slice(to)
  }
  const from = lineStart(text, dashOffset(text, item.range![0]))
  const to = lineEnd(text, item.range![1] - 1)
  return text.slice(0, from) + text.slice(to)
}

// ---- the edit -------------------------------------------------------------------------------

import {closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {StringDecoder} from 'node:string_decoder'

import type {Finding} from './audit.js'
import {describeFailure} from '../describe-error.js'
import {UserError} from '../errors.js'

const CHUNK = 64 * 1024

/**
 * Findings parked on disk so that a report can print them in another order than they were made
 * (a fleet's clusters one after the other, the table's workloads group by group) without holding
 * them: one JSON line per finding in a 0600 file of a fresh 0700 directory, both removed as soon
 * as the file is open (nothing is left behind, even when the process is killed). A reader names
 * what it wants back by spans of byte offsets.
 */
export class FindingSpool {
  /** Bytes appended so far (written or buffered): the next finding's offset. */
  offset = 0
  private readonly fd: number
  // One read buffer: each read decodes what it got before it yields, so readers can take turns.
  private readonly chunk = Buffer.allocUnsafe(CHUNK)
  private buffer: string[] = []
  private buffered = 0
  private written = 0
  private closed = false

  constructor() {
    let dir: string
    try {
      dir = mkdtempSync(path.join(tmpdir(), 'imgsec-spool-'))
    } catch (error) {
      throw new UserError(
        `cannot create a temporary file in ${tmpdir()} (${describeFailure(error)}); set TMPDIR to a writable directory`,
      )
    }
    try {
      const file = path.join(dir, 'findings.jsonl')
      this.fd = openSync(file, 'wx+', 0o600)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }

  /** Park a finding; returns its span [start, end). */
  append(finding: Finding): [number, number] {
    return this.park(JSON.stringify(finding) + '\n')
  }

  private park(line: string): [number, number] {
    const start = this.offset
    this.buffer.push(line)
    const bytes = Buffer.byteLength(line)
    this.buffered += bytes
    this.offset += bytes
    if (this.buffered >= CHUNK) this.writeOut()
    return [start, this.offset]
  }

  /** Park a finding's rendered text (which holds no NUL: JSON and YAML escape it); returns its span. */
  appendText(text: string): [number, number] {
    return this.park(`${text}\u0000`)
  }

  /** The texts appendText parked between `start` and `end`, in order. */
  *readTexts(start: number, end: number): Generator<string> {
    yield* this.records(start, end, '\u0000')
  }

  /** The findings between byte offsets `start` and `end` (a span or spans put together), in order. */
  *read(start: number, end: number): Generator<Finding> {
    for (const line of this.records(start, end, '\n')) yield JSON.parse(line) as Finding
  }

  private *records(start: number, end: number, separator: string): Generator<string> {
    this.writeOut()
    const decoder = new StringDecoder('utf8')
    const {chunk} = this
    let rest = ''
    for (let at = start; at < end;) {
      const got = readSync(this.fd, chunk, 0, Math.min(CHUNK, end - at), at)
      if (got === 0) throw new Error(`finding spool: ${end - at} bytes missing at offset ${at}`)
      at += got
      const records = (rest + decoder.write(chunk.subarray(0, got))).split(separator)
      rest = records.pop()!
      yield* records
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    closeSync(this.fd)
  }

  private writeOut(): void {
    if (this.buffered === 0) return
    const data = Buffer.from(this.buffer.join(''))
    this.buffer = []
    this.buffered = 0
    for (let done = 0; done < data.length;)
      done += writeSync(this.fd, data, done, data.length - done, this.written + done)
    this.written += data.length
  }
}

/** Spans [start, end, start, end, …] of one reader's findings: a span that continues the last one extends it. */
export function addSpan(spans: number[], [start, end]: [number, number]): void {
  if (spans.length > 0 && spans.at(-1) === start) spans[spans.length - 1] = end
  else spans.push(start, end)
}

/** Every text of `spans` (appendText's), in order. */
export function* readTextSpans(spool: FindingSpool, spans: readonly number[]): Generator<string> {
  for (let i = 0; i < spans.length; i += 2) yield* spool.readTexts(spans[i], spans[i + 1])
}

/** Every finding of `spans`, in order. */
export function* readSpans(spool: FindingSpool, spans: readonly number[]): Generator<Finding> {
  for (let i = 0; i < spans.length; i += 2) yield* spool.read(spans[i], spans[i + 1])
}

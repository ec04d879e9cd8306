// A Kubernetes list answer (`{"kind": …, "metadata": {…}, "items": [{…}, …]}`) read as it arrives:
// each element of `items` is cut out of the text and parsed alone, so a page of 500 pods (~2 MB of
// JSON) is never held whole, as text or as objects. Parsing a whole page at once made one
// allocation larger than V8's young generation: every page was copied into the old generation and
// collected there, and that garbage, not the cluster, set the audit's peak memory.

/** The fields of the answer other than `items` (`metadata.continue`, `kind`…), parsed at the end. */
export type ListRest = Record<string, unknown> & {metadata?: {continue?: string}}

/** Bytes of the answer outside `items` we keep (metadata, kind: a few hundred bytes in practice). */
const MAX_REST_CHARS = 1024 * 1024

/** JSON.parse, whose message quotes the text: replaced by one that names what was read. */
function parse(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new SyntaxError(`${what} is not JSON`)
  }
}

export class ListItemSplitter {
  private depth = 0
  private inString = false
  /** Inside the top-level `items` array (depth 2 is its elements' level). */
  private inItems = false
  private itemsDone = false
  /** Text of the element being read, in pieces; undefined between elements. */
  private item: string[] | undefined
  private rest: string[] = []
  private restChars = 0
  /** The last string closed at depth 1 (a key, when a `:` follows). */
  private lastKey: string | undefined
  private keyStart = -1
  private keyPieces: string[] = []
  private awaitingItems = false

  constructor(private readonly onItem: (item: unknown) => void) {}

  /** Feed the next piece of the text; complete elements go to onItem before it returns. */
  push(chunk: string): void {
    let from = 0
    let itemFrom = this.item ? 0 : -1
    let i = 0
    const n = chunk.length
    while (i < n) {
      const c = chunk.charCodeAt(i)
      if (this.inString) {
        // Jump to the next quote; it ends the string unless an odd run of backslashes precedes it.
        const quote = chunk.indexOf('"', i)
        if (quote < 0) {
          this.keyText(chunk, i, n)
          i = n
          break
        }
        if (this.escaped(chunk, quote)) {
          this.keyText(chunk, i, quote + 1)
          i = quote + 1
          continue
        }
        this.keyText(chunk, i, quote)
        this.inString = false
        i = quote + 1
        if (this.depth === 1 && !this.inItems && this.keyStart >= 0) {
          const raw = this.keyPieces.join('')
          this.lastKey = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw
          this.keyPieces = []
          this.keyStart = -1
        }
        if (this.inItems && this.depth === 2 && this.item) {
          // A string element of items ends here.
          this.item.push(chunk.slice(itemFrom, i))
          this.emit()
          itemFrom = -1
        }
        continue
      }
      if (c === 0x22 /* " */) {
        this.inString = true
        this.lastBackslashes = 0
        if (this.depth === 1 && !this.inItems) {
          this.keyStart = i
          this.keyPieces = []
        }
        if (this.inItems && this.depth === 2 && !this.item) {
          this.item = []
          itemFrom = i
        }
        i++
        continue
      }
      if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        if (this.awaitingItems && this.depth === 1 && c === 0x5b) {
          // The items array opens: what came before is kept as the rest, with an empty array in its place.
          this.keep(chunk.slice(from, i + 1) + ']')
          this.inItems = true
          this.awaitingItems = false
          this.depth = 2
          i++
          from = -1
          continue
        }
        this.awaitingItems = false
        if (this.inItems && this.depth === 2 && !this.item) {
          this.item = []
          itemFrom = i
        }
        this.depth++
        i++
        continue
      }
      if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
        if (this.inItems && this.depth === 2) {
          // The items array closes (after a primitive element, maybe).
          if (this.item) {
            this.item.push(chunk.slice(itemFrom, i))
            this.emit()
            itemFrom = -1
          }
          this.inItems = false
          this.itemsDone = true
          this.depth = 1
          i++
          from = i
          continue
        }
        this.depth--
        i++
        if (this.inItems && this.depth === 2 && this.item) {
          this.item.push(chunk.slice(itemFrom, i))
          this.emit()
          itemFrom = -1
        }
        continue
      }
      if (this.inItems && this.depth === 2) {
        if (c === 0x2c /* , */) {
          if (this.item) {
            this.item.push(chunk.slice(itemFrom, i))
            this.emit()
            itemFrom = -1
          }
        } else if (!this.item && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
          // A primitive element (a number, true, false, null).
          this.item = []
          itemFrom = i
        }
        i++
        continue
      }
      if (c === 0x3a /* : */ && this.depth === 1 && !this.inItems) {
        this.awaitingItems = this.lastKey === 'items' && !this.itemsDone
        this.lastKey = undefined
      } else if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) this.awaitingItems = false
      i++
    }
    if (this.item && itemFrom >= 0) this.item.push(chunk.slice(itemFrom))
    if (from >= 0 && !this.inItems) this.keep(chunk.slice(from))
  }

  /** The answer's other fields, once the whole text was pushed (throws on a truncated or malformed answer). */
  end(): ListRest {
    if (this.depth !== 0 || this.inString || this.inItems || this.item)
      throw new SyntaxError('the list answer ended early')
    const rest = parse(this.rest.join(''), 'the list answer')
    if (!rest || typeof rest !== 'object' || Array.isArray(rest))
      throw new SyntaxError('the list answer is not an object')
    return rest as ListRest
  }

  private lastBackslashes = 0

  /** Whether the quote at `quote` is escaped (an odd run of backslashes before it, across pieces). */
  private escaped(chunk: string, quote: number): boolean {
    let run = 0
    let k = quote - 1
    while (k >= 0 && chunk.charCodeAt(k) === 0x5c) {
      run++
      k--
    }
    if (k < 0) run += this.lastBackslashes
    return run % 2 === 1
  }

  /** Text of a string: kept when it may be a top-level key; notes trailing backslashes for the next piece. */
  private keyText(chunk: string, start: number, end: number): void {
    if (this.keyStart >= 0 && this.depth === 1 && !this.inItems) {
      this.keyPieces.push(chunk.slice(start, end))
      // A key is short; a long string at depth 1 is a value, and not "items".
      if (this.keyPieces.length > 64) this.keyStart = -1
    }
    let run = 0
    for (let k = end - 1; k >= start && chunk.charCodeAt(k) === 0x5c; k--) run++
    this.lastBackslashes = run === end - start ? this.lastBackslashes + run : run
  }

  private keep(text: string): void {
    this.restChars += text.length
    if (this.restChars > MAX_REST_CHARS) throw new SyntaxError('the list answer has too much outside its items')
    this.rest.push(text)
  }

  private emit(): void {
    const text = this.item!.join('')
    this.item = undefined
    this.onItem(parse(text, 'an item of the list answer'))
  }
}

/**
 * A unified diff of two texts, line by line (LCS), as `diff -u` prints it. Meant for files the
 * size of a static pod manifest; it is O(lines²) in memory.
 */
export function unifiedDiff(
  before: string,
  after: string,
  options: {from: string; to: string; context?: number},
): string {
  if (before === after) return ''
  const context = options.context ?? 3
  const a = splitLines(before)
  const b = splitLines(after)
  // lcs[i][j] = length of the LCS of a[i..] and b[j..]
  const lcs: Uint32Array[] = Array.from({length: a.length + 1}, () => new Uint32Array(b.length + 1))
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1])
    }
  }
  type Op = {kind: ' ' | '-' | '+'; line: string; aIndex: number; bIndex: number}
  const ops: Op[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({kind: ' ', line: a[i], aIndex: i++, bIndex: j++})
    } else if (i < a.length && (j >= b.length || lcs[i + 1][j] >= lcs[i][j + 1])) {
      // Deletions before insertions, as GNU diff prints them.
      ops.push({kind: '-', line: a[i], aIndex: i++, bIndex: j})
    } else {
      ops.push({kind: '+', line: b[j], aIndex: i, bIndex: j++})
    }
  }
  const lines = [`--- ${options.from}`, `+++ ${options.to}`]
  let k = 0
  while (k < ops.length) {
    if (ops[k].kind === ' ') {
      k++
      continue
    }
    // A hunk: from `context` lines before the first change to `context` lines after the last
    // change that is within 2*context of the next one.
    const start = Math.max(0, k - context)
    let end = k
    while (end < ops.length) {
      if (ops[end].kind !== ' ') {
        end++
        continue
      }
      let run = end
      while (run < ops.length && ops[run].kind === ' ') run++
      if (run === ops.length || run - end > 2 * context) break
      end = run
    }
    const stop = Math.min(ops.length, end + context)
    const hunk = ops.slice(start, stop)
    const aStart = hunk[0].aIndex
    const bStart = hunk[0].bIndex
    const aCount = hunk.filter((op) => op.kind !== '+').length
    const bCount = hunk.filter((op) => op.kind !== '-').length
    lines.push(
      `@@ -${aCount === 0 ? aStart : aStart + 1},${aCount} +${bCount === 0 ? bStart : bStart + 1},${bCount} @@`,
    )
    for (const op of hunk) lines.push(`${op.kind}${op.line}`)
    k = stop
  }
  return lines.join('\n') + '\n'
}

function splitLines(text: string): string[] {
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}

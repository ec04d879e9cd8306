/**
 * One copy of each distinct string. For records an audit keeps per workload until its end: their
 * kinds, images and digests repeat across thousands of workloads, but each was parsed from its own
 * JSON item and so is its own copy.
 */
export function stringPool(): (text: string) => string {
  const pool = new Map<string, string>()
  return (text) => {
    const known = pool.get(text)
    if (known !== undefined) return known
    pool.set(text, text)
    return text
  }
}

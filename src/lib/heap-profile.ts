// How V8 sizes the heap for an audit, which streams its input: each pod, file or finding is
// dropped once handled, so what is alive stays a few MiB whatever the input's size. V8's defaults
// are made for long-lived programs and let garbage pile up instead:
// - the young generation doubles (1 → 16 MiB semi-spaces, 3 of them) as soon as enough survives
//   scavenges, which a streamed read of a large cluster always reaches and a small one does not:
//   that alone made 20k pods peak at 1.3× the RSS of 5k;
// - after each mark-compact the old generation may grow up to 4× what was alive before the next one,
//   so a run that promotes a little garbage all the time (the pages in flight during a scavenge)
//   grows by tens of MiB before it is collected.
// Both are read by V8 at each collection, so they take effect when set here, after start-up (a
// process flag would need every launcher to pass it: npm's bin, krew's launcher, the standalone
// executable). The young generation is kept small only for cluster and fleet audits: a file audit
// parses whole YAML documents, whose syntax trees outlive a 1 MiB semi-space and would be promoted
// (2,000 files took 1.7× as long). Measured in `npm run bench` (docs/benchmarks.md, issue 13).
import {setFlagsFromString} from 'node:v8'

/** `stream`: pods read from API servers; `files`: manifest files and image archives. */
export type HeapProfile = 'files' | 'stream'

/**
 * The V8 flags of each profile. `--heap-growing-percent=50`: the old generation may grow by half of
 * what was alive (V8 still grows it by at least a few MiB). `--semi-space-growth-factor=1`: the
 * young generation keeps its start-up size (V8 12 and later raise a factor below 2 to 2, so there
 * it has no effect; these machines run Node 20, V8 11).
 */
export const HEAP_FLAGS: Readonly<Record<HeapProfile, readonly string[]>> = {
  files: ['--heap-growing-percent=50'],
  stream: ['--semi-space-growth-factor=1', '--heap-growing-percent=50'],
}

/** Size the heap for an audit of this kind. Call it once, before the input is read. */
export function useHeapProfile(profile: HeapProfile, setFlags: (flags: string) => void = setFlagsFromString): void {
  // IMGSEC_V8_DEFAULTS=1 keeps V8's own sizing, for comparison in the benchmarks.
  if (process.env.IMGSEC_V8_DEFAULTS === '1') return
  for (const flag of HEAP_FLAGS[profile]) setFlags(flag)
}

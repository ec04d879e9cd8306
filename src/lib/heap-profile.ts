// How V8 sizes the heap for an audit, which streams its input: each pod, file or finding is
// dropped once handled, so what is alive stays a few MiB whatever the input's size. V8's defaults
// are made for long-lived programs and let garbage pile up instead:
// - the young generation doubles, up to two 16 MiB semi-spaces, as soon as enough survives
//   scavenges, which a streamed read of a large cluster always reaches and a small one does not:
//   that alone made 20k pods peak at 1.3× the RSS of 5k;
// - after each mark-compact the old generation may grow up to 4× what was alive before the next one,
//   so a run that promotes a little garbage all the time (the pages in flight during a scavenge)
//   grows by tens of MiB before it is collected.
// Both are read by V8 at each collection, so they take effect when set here, after start-up (a
// process flag would need every launcher to pass it: npm's bin, krew's launcher, the standalone
// executable). Measured in `npm run bench` (docs/benchmarks.md, issue 13).
import {setFlagsFromString} from 'node:v8'

/**
 * `pods`: a cluster audit that only reads pods, each small and dropped at once. `documents`: an
 * audit that parses whole documents: YAML files, and the image configs, scan reports and signature
 * bundles of --inspect, --scan and --verify-signatures. Their syntax trees outlive a small young
 * generation and would be promoted: 2,000 files took 1.7× as long with it.
 */
export type HeapProfile = 'documents' | 'pods'

/** What the audit reads, as the command's flags say. */
export function heapProfileFor(input: {files: boolean; archives: boolean; perImage: boolean}): HeapProfile {
  return input.files || input.archives || input.perImage ? 'documents' : 'pods'
}

/**
 * The V8 flags of each profile. `--heap-growing-percent=50`: the old generation may grow by half of
 * what was alive (V8 still grows it by at least a few MiB). `--semi-space-growth-factor=1`: the
 * young generation stops growing at the size it has when this is set.
 */
export const HEAP_FLAGS: Readonly<Record<HeapProfile, readonly string[]>> = {
  documents: ['--heap-growing-percent=50'],
  pods: ['--semi-space-growth-factor=1', '--heap-growing-percent=50'],
}

/**
 * The V8 these flags were measured on: Node 20's (V8 11). V8 12 and later raise a semi-space growth
 * factor below 2 back to 2, and V8 prints an error for a flag it no longer knows: on any other V8
 * the heap keeps V8's own sizing.
 */
export const HEAP_FLAGS_V8_MAJOR = 11

/** Size the heap for an audit of this kind. Call it once, before the input is read. */
export function useHeapProfile(
  profile: HeapProfile,
  setFlags: (flags: string) => void = setFlagsFromString,
  v8Version: string = process.versions.v8,
): void {
  // IMGSEC_V8_DEFAULTS=1 keeps V8's own sizing, for comparison in the benchmarks and tests.
  if (process.env.IMGSEC_V8_DEFAULTS === '1') return
  if (Number.parseInt(v8Version, 10) !== HEAP_FLAGS_V8_MAJOR) return
  for (const flag of HEAP_FLAGS[profile]) setFlags(flag)
}

// Preloaded into a benchmarked node process with `node --require bench/support/maxrss.cjs …`.
// At exit it writes the process's peak resident set size (process.resourceUsage().maxRSS, KiB,
// getrusage(2) ru_maxrss) and its CPU time (user + system, seconds) to the file named by
// BENCH_MAXRSS_FILE, as "KiB user system". It prints nothing, so the
// command's own stdout/stderr are untouched; the cost is one tiny CommonJS module load.
'use strict'
const fs = require('node:fs')

const file = process.env.BENCH_MAXRSS_FILE
if (file) {
  process.on('exit', () => {
    try {
      const usage = process.resourceUsage()
      fs.writeFileSync(file, `${usage.maxRSS} ${usage.userCPUTime / 1e6} ${usage.systemCPUTime / 1e6}`)
    } catch {
      // The bench notices the missing file and reports it.
    }
  })
}

// Where the real cosign (for signing test images) lives: a cache outside the repository, one
// directory per cosign release, built from Go modules by `npm run cosign:build` (build.ts).
import {homedir} from 'node:os'
import path from 'node:path'

/** The cosign release the tests sign with (sign --key --tlog-upload=false: the tag scheme). */
export const COSIGN_VERSION = 'v2.6.5'
export const COSIGN_MODULE = 'github.com/sigstore/cosign/v2/cmd/cosign'

export function cosignDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache')
  return path.join(base, 'kubectl-imgsec', 'cosign', COSIGN_VERSION)
}

/** The binary: IMGSEC_TEST_COSIGN_BIN, or the cached build. */
export function cosignBinaryPath(): string {
  return process.env.IMGSEC_TEST_COSIGN_BIN || path.join(cosignDir(), 'cosign')
}

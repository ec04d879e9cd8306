/**
 * The default backend image, pinned by digest so `whitelist enable` needs no network to name it
 * (an air-gapped control plane cannot ask gcr.io). `scripts/refresh-backend-image.ts` asks the
 * registry for the tag's current digest and rewrites DEFAULT_BACKEND_DIGEST below; keep the
 * constant on one line so the script finds it.
 *
 * Provenance of the digest below: gcr.io is not reachable from the machine this was written on, so
 * it was NOT pulled or resolved here. It is the multi-arch index digest of
 * gcr.io/distroless/nodejs22-debian12:nonroot that independent public repositories pin (read on
 * 2026-11-30): garoon/garoon-mcp-server (Dockerfile, commit 3dd44644), dewab-org/as3_builder
 * (Dockerfile, commit 77965b3c), and a third project's notes that re-verified it against gcr.io on
 * 2026-07-23 as the tag's newest build. Run the refresh script where gcr.io is reachable to replace it
 * with a digest resolved first-hand (docs/decisions.md).
 */
export const DEFAULT_BACKEND_SOURCE = {registry: 'gcr.io', repository: 'distroless/nodejs22-debian12', tag: 'nonroot'}
export const DEFAULT_BACKEND_DIGEST = 'sha256:13593b7570658e8477de39e2f4a1dd25db2f836d68a0ba771251572d23bb4f8e'

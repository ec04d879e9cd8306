import type {CheckInfo} from './types.js'

// Filled from `--scan` (trivy), once per distinct image; the severity is the worst vulnerability's.
export const imageVulnerable: CheckInfo = {
  id: 'image-vulnerable',
  severity: 'high',
  title: 'Image has known vulnerabilities',
  fix: 'Rebuild on a patched base image (or a minimal one such as distroless) and redeploy; `trivy image <image>` lists the packages.',
}

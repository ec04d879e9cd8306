import {checkHelpUri, type ContainerInstance, type CrossWorkloadCheck} from './types.js'

/**
 * The image a scanner should look at for this container: the digest it really runs when known
 * (a tag may have moved since), else the image as written.
 */
export function scanTargetOf(instance: Pick<ContainerInstance, 'image' | 'runningDigest'>): string {
  if (!instance.runningDigest) return instance.image
  const at = instance.image.indexOf('@')
  return `${at >= 0 ? instance.image.slice(0, at) : instance.image.replace(/:[^/:]+$/, '')}@${instance.runningDigest}`
}

// Needs `--scan` (trivy): the run scans each distinct image once, before the checks; this check
// only reads the results. The severity is the worst vulnerability's.
export const imageVulnerable: CrossWorkloadCheck = {
  id: 'image-vulnerable',
  kind: 'cross-workload',
  severity: 'high',
  title: 'Image has known vulnerabilities',
  description:
    'The scanner (trivy) found packages with published vulnerabilities in the image. Reported once per distinct image, on every workload container that runs it.',
  helpUri: checkHelpUri('image-vulnerable'),
  fix: 'Rebuild on a patched base image (or a minimal one such as distroless) and redeploy; `trivy image <image>` lists the packages.',
  run(containers, {vulnerabilities}) {
    if (!vulnerabilities) return []
    const seen = new Set<string>()
    return containers.flatMap((instance) => {
      if (!instance.image) return []
      const target = scanTargetOf(instance)
      const found = vulnerabilities.get(target)
      if (!found?.severity) return []
      // Replicas of a workload run the same container: one finding per workload container and image.
      const {kind, namespace, name} = instance.workload
      const key = `${kind}/${namespace ?? ''}/${name}/${instance.container}/${target}`
      if (seen.has(key)) return []
      seen.add(key)
      return [{instance, result: {message: found.message, severity: found.severity}}]
    })
  },
}

import {apiStatusOf, type KubeClient} from '../cluster/kube-client.js'

export interface SmokeResult {
  image: string
  expected: 'refused' | 'admitted'
  actual: 'refused' | 'admitted' | 'error'
  detail: string
}

/**
 * Ask the API server, with server-side dry-run creates, whether the whitelist now decides: a pod
 * with nginx:latest must be refused, one with an allowed image admitted. Nothing is stored.
 */
export async function smokeTestWhitelist(client: KubeClient, options: {namespace: string; allowedImage: string}): Promise<SmokeResult[]> {
  const cases: Array<{image: string; expected: 'refused' | 'admitted'}> = [
    {image: 'nginx:latest', expected: 'refused'},
    {image: options.allowedImage, expected: 'admitted'},
  ]
  const results: SmokeResult[] = []
  for (const {image, expected} of cases) {
    const body = {apiVersion: 'v1', kind: 'Pod', metadata: {generateName: 'imgsec-smoke-', namespace: options.namespace}, spec: {containers: [{name: 'smoke', image}]}}
    try {
      // eslint-disable-next-line no-await-in-loop -- two requests, in order
      await client.core.createNamespacedPod({namespace: options.namespace, body, dryRun: 'All'})
      results.push({image, expected, actual: 'admitted', detail: 'admitted (dry run)'})
    } catch (error) {
      const status = apiStatusOf(error)
      if (status?.code === 403) results.push({image, expected, actual: 'refused', detail: status.status.message ?? 'forbidden'})
      else results.push({image, expected, actual: 'error', detail: status ? `HTTP ${status.code}: ${status.status.message ?? ''}` : (error as Error).message})
    }
  }
  return results
}

/** Kubernetes before 1.27.3 lets ephemeral containers bypass ImagePolicyWebhook (CVE-2023-2727). */
export function versionWarning(gitVersion: string): string | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(gitVersion)
  if (!match) return undefined
  const [major, minor, patch] = match.slice(1).map(Number)
  const vulnerable = major === 1 && (minor < 27 || (minor === 27 && patch < 3))
  return vulnerable ? `the API server is ${gitVersion}: before 1.27.3 ephemeral containers bypass ImagePolicyWebhook (CVE-2023-2727); upgrade the control plane` : undefined
}

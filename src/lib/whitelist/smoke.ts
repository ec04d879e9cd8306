import type {ClusterAccess} from '../cluster/connection.js'
import {apiStatusOf, type KubeClient} from '../cluster/kube-client.js'
import {parseKubeVersion, serverVersion, versionBefore} from '../cluster/version.js'
import {type MirrorPodState, waitForApiserver} from '../controlplane/apiserver-restart.js'
import {UserError} from '../errors.js'
import {describeFailure} from '../describe-error.js'

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
export async function smokeTestWhitelist(
  client: KubeClient,
  options: {namespace: string; allowedImage: string},
): Promise<SmokeResult[]> {
  const cases: Array<{image: string; expected: 'refused' | 'admitted'}> = [
    {image: 'nginx:latest', expected: 'refused'},
    {image: options.allowedImage, expected: 'admitted'},
  ]
  const results: SmokeResult[] = []
  for (const {image, expected} of cases) {
    const body = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {generateName: 'imgsec-smoke-', namespace: options.namespace},
      spec: {containers: [{name: 'smoke', image}]},
    }
    try {
      // eslint-disable-next-line no-await-in-loop -- two requests, in order
      await client.core.createNamespacedPod({namespace: options.namespace, body, dryRun: 'All'})
      results.push({image, expected, actual: 'admitted', detail: 'admitted (dry run)'})
    } catch (error) {
      const status = apiStatusOf(error)
      if (status?.code === 403)
        results.push({image, expected, actual: 'refused', detail: status.status.message ?? 'forbidden'})
      else
        results.push({
          image,
          expected,
          actual: 'error',
          detail: status ? `HTTP ${status.code}: ${status.status.message ?? ''}` : describeFailure(error),
        })
    }
  }
  return results
}

/** Kubernetes before 1.27.3 lets ephemeral containers bypass ImagePolicyWebhook (CVE-2023-2727). */
export function versionWarning(gitVersion: string): string | undefined {
  const version = parseKubeVersion(gitVersion)
  if (!version || !versionBefore(version, 1, 27, 3)) return undefined
  return `the API server is ${gitVersion}: before 1.27.3 ephemeral containers bypass ImagePolicyWebhook (CVE-2023-2727); upgrade the control plane`
}

/** Best effort, when the kubeconfig reaches a cluster (3 s at most): the plugin has a known bypass before 1.27.3. */
export async function bestEffortVersionWarning(cluster: ClusterAccess): Promise<string | undefined> {
  if (!cluster.client) return undefined
  try {
    const version = await Promise.race([
      serverVersion(cluster.client),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3000).unref()),
    ])
    return version && versionWarning(version.gitVersion)
  } catch {
    // No cluster reachable from here: the static placement does not need one.
    return undefined
  }
}

/** An image the allowlist admits, for the smoke test: one of the first allowed registry. */
export function smokeTestImage(allowedRegistries?: string[]): string {
  const registry = allowedRegistries?.[0]
  return !registry || registry === 'docker.io' || registry.startsWith('*.')
    ? 'nginx:1.27'
    : `${registry}/imgsec-smoke:1.0`
}

/** kube-apiserver's mirror pod before the change, and the client to ask again after it. */
export interface RestartWatch {
  client: KubeClient
  before?: MirrorPodState
}

/**
 * `enable --wait`: wait until the kubelet has restarted kube-apiserver with the new manifest, then
 * smoke-test the whitelist (nothing stored). Refuses with the way back when it does not come back.
 */
export async function awaitRestartAndSmokeTest(
  watch: RestartWatch,
  options: {
    timeoutMs: number
    allowedRegistries?: string[]
    onProgress?: (text: string) => void
    onReady?: (detail: string) => void
  },
): Promise<SmokeResult[]> {
  const ready = await waitForApiserver(watch.client, watch.before, {
    timeoutMs: options.timeoutMs,
    onProgress: options.onProgress,
  })
  if (!ready.ready) throw new UserError(`${ready.detail}; undo with: kubectl imgsec patch-apiserver --restore`)
  options.onReady?.(ready.detail)
  return smokeTestWhitelist(watch.client, {
    namespace: 'default',
    allowedImage: smokeTestImage(options.allowedRegistries),
  })
}

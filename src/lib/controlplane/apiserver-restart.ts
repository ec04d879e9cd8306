import {hostname} from 'node:os'

import type {KubeClient} from '../cluster/kube-client.js'
import {pollUntil} from '../poll.js'
import {describeFailure} from '../describe-error.js'

/** The static pod as the API server mirrors it; the kubelet changes the hash when it runs a new manifest. */
export interface MirrorPodState {
  name: string
  hash?: string
}

const CONFIG_HASH = 'kubernetes.io/config.hash'

/** The kube-apiserver mirror pod of this node (kubeadm names it kube-apiserver-<node>), else the only one. */
export async function readMirrorPod(client: KubeClient, node = hostname()): Promise<MirrorPodState | undefined> {
  const pods = await client.core.listNamespacedPod({
    namespace: 'kube-system',
    labelSelector: 'component=kube-apiserver',
  })
  const candidates = pods.items.filter((pod) => pod.metadata?.name)
  const pod =
    candidates.find((p) => p.metadata!.name === `kube-apiserver-${node}`) ??
    (candidates.length === 1 ? candidates[0] : undefined)
  if (!pod) return undefined
  return {name: pod.metadata!.name!, hash: pod.metadata?.annotations?.[CONFIG_HASH]}
}

export interface WaitResult {
  ready: boolean
  detail: string
}

/**
 * Wait until the kubelet has restarted the API server with the new manifest (the mirror pod's
 * config hash changed) and `/readyz` answers, or the timeout passes. Failures while it restarts
 * (connection refused, 5xx) are expected and only remembered for the message.
 */
export async function waitForApiserver(
  client: KubeClient,
  before: MirrorPodState | undefined,
  options: {timeoutMs: number; intervalMs?: number; onProgress?: (text: string) => void},
): Promise<WaitResult> {
  const {Health} = await import('../cluster/client-node.js')
  const health = new Health(client.kubeConfig)
  const interval = options.intervalMs ?? Math.min(2000, Math.max(100, options.timeoutMs / 20))
  let restarted = before?.hash === undefined
  let lastProblem = 'no answer yet'
  const ready = await pollUntil(
    async (): Promise<WaitResult | undefined> => {
      try {
        if (!restarted && before) {
          options.onProgress?.('waiting for the kubelet to restart kube-apiserver')
          const now = await readMirrorPod(client, before.name.replace(/^kube-apiserver-/, ''))
          if (now?.hash && now.hash !== before.hash) restarted = true
          else lastProblem = 'the mirror pod still has the old config hash'
        }
        if (restarted) {
          options.onProgress?.('waiting for /readyz')
          if (await health.readyz({timeout: interval * 2}))
            return {ready: true, detail: `kube-apiserver is ready (${client.server}/readyz)`}
          lastProblem = '/readyz did not answer ok'
        }
      } catch (error) {
        lastProblem = describeFailure(error)
      }
      return undefined
    },
    {timeoutMs: options.timeoutMs, intervalMs: interval},
  )
  if (ready) return ready
  return {
    ready: false,
    detail: `kube-apiserver did not come back within ${Math.round(options.timeoutMs / 1000)}s (${restarted ? '' : 'the kubelet did not restart it; '}last: ${lastProblem})`,
  }
}

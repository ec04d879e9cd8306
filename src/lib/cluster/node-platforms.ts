// Which platforms the cluster's nodes run, so that `--inspect` reads the image of an index that
// would really be pulled (kubernetes.io/os and kubernetes.io/arch, as the kubelet labels nodes).
import {describeFailure} from '../describe-error.js'
import type {ApiReader} from './api-reader.js'
import {forEachRawPage} from './kube-client.js'

export interface NodePlatform {
  os: string
  architecture: string
}

interface NodeItem {
  metadata?: {labels?: Record<string, string>}
  status?: {nodeInfo?: {operatingSystem?: string; architecture?: string}}
}

/** The distinct os/arch of the nodes (labels first, then status.nodeInfo), in a stable order. */
export function platformsOfNodes(nodes: NodeItem[]): NodePlatform[] {
  const seen = new Map<string, NodePlatform>()
  for (const node of nodes) {
    const labels = node.metadata?.labels ?? {}
    const os = labels['kubernetes.io/os'] ?? node.status?.nodeInfo?.operatingSystem
    const architecture = labels['kubernetes.io/arch'] ?? node.status?.nodeInfo?.architecture
    if (os && architecture) seen.set(`${os}/${architecture}`, {os, architecture})
  }
  return [...seen.keys()].sort().map((key) => seen.get(key)!)
}

/**
 * The nodes' platforms; when nodes cannot be listed (RBAC, a timeout) an empty list and the
 * reason, so the caller falls back to linux/amd64 and says why.
 */
export async function clusterNodePlatforms(client: ApiReader): Promise<{platforms: NodePlatform[]; problem?: string}> {
  const nodes: NodeItem[] = []
  try {
    await client.call({verb: 'list', resource: 'nodes'}, () =>
      forEachRawPage<NodeItem>(client, '/api/v1/nodes', {}, (items) => {
        nodes.push(...items)
      }),
    )
  } catch (error) {
    return {platforms: [], problem: describeFailure(error)}
  }
  return {platforms: platformsOfNodes(nodes)}
}

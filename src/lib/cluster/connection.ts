import {type ApiReader, createApiReader} from './api-reader.js'
import {createKubeClient, type KubeClient} from './kube-client.js'
import {type KubeTargetOptions, loadKubeconfig} from './kubeconfig.js'

/** Which cluster, as --kubeconfig, --context and --as name it (and --request-timeout); never -n, which each command means its own way. */
export type KubeTarget = Pick<KubeTargetOptions, 'kubeconfig' | 'context' | 'as' | 'requestTimeout'>

/**
 * The one client of a command that can also work without a cluster (the static placement, a
 * client dry run): built from the target when the kubeconfig names a server, else the reason why
 * not, which `requireClient` throws where a cluster is needed (createKubeClient's own message).
 */
export interface ClusterAccess {
  client?: KubeClient
  /** The kubeconfig names a server for the chosen context. */
  configured: boolean
  problem?: unknown
}

export async function connectCluster(target: KubeTarget): Promise<ClusterAccess> {
  let config: ReturnType<typeof loadKubeconfig>
  try {
    config = loadKubeconfig({kubeconfig: target.kubeconfig, context: target.context, as: target.as})
  } catch (problem) {
    return {configured: false, problem}
  }
  try {
    return {client: await createKubeClient(target, config), configured: true}
  } catch (problem) {
    return {configured: Boolean(config.server), problem}
  }
}

/**
 * For a command that only reads: the lean reader (no client-node, about 80 ms less start-up),
 * unless the kubeconfig's user has a legacy auth-provider that only client-node speaks. A
 * kubeconfig problem is thrown (a UserError naming it).
 */
export async function connectReader(
  target: KubeTarget,
  config = loadKubeconfig({kubeconfig: target.kubeconfig, context: target.context, as: target.as}),
): Promise<ApiReader> {
  return createApiReader(target, config) ?? (await createKubeClient(target, config))
}

/** The client, or the reason there is none (a UserError naming the kubeconfig problem). */
export function requireClient(cluster: ClusterAccess): KubeClient {
  if (cluster.client) return cluster.client
  throw cluster.problem
}

/** No cluster at all (tests, commands given none). */
export const NO_CLUSTER: ClusterAccess = {configured: false, problem: new Error('no cluster')}

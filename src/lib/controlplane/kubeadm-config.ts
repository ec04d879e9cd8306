import {isMap, isSeq, parseDocument, type YAMLMap, type YAMLSeq} from 'yaml'

import {UserError} from '../errors.js'
import type {KubeClient} from '../cluster/kube-client.js'

export interface KubeadmApiServerChange {
  /** Flags to set (name without dashes → value). */
  setArgs: Record<string, string>
  removeArgs: string[]
  /** hostPath volumes mounted at the same path. */
  addVolumes: Array<{name: string; path: string}>
  removeVolumes: string[]
}

/**
 * Apply the same change to kubeadm's ClusterConfiguration text (apiServer.extraArgs and
 * extraVolumes), so that `kubeadm upgrade` regenerates the manifest with it. v1beta3 keeps
 * extraArgs as a map, v1beta4 (kubeadm 1.31+) as a list of {name, value}.
 */
export function editClusterConfiguration(
  text: string,
  change: KubeadmApiServerChange,
): {text: string; changes: string[]} {
  const doc = parseDocument(text)
  if (doc.errors.length > 0 || !isMap(doc.contents))
    throw new UserError('the ClusterConfiguration in ConfigMap kube-system/kubeadm-config is not valid YAML')
  const apiVersion = String(doc.get('apiVersion') ?? '')
  const listArgs = apiVersion.endsWith('/v1beta4')
  if (!doc.hasIn(['apiServer'])) doc.set('apiServer', doc.createNode({}))
  const changes: string[] = []
  const argsPath = ['apiServer', 'extraArgs']
  if (listArgs) {
    if (!isSeq(doc.getIn(argsPath, true))) doc.setIn(argsPath, doc.createNode([]))
    const seq = doc.getIn(argsPath, true) as YAMLSeq<YAMLMap>
    for (const [name, value] of Object.entries(change.setArgs)) {
      const existing = seq.items.find((item) => isMap(item) && item.get('name') === name)
      if (existing && existing.get('value') === value) continue
      if (existing) existing.set('value', value)
      else seq.items.push(doc.createNode({name, value}) as YAMLMap)
      changes.push(`apiServer.extraArgs ${name}=${value}`)
    }
    for (const name of change.removeArgs) {
      const index = seq.items.findIndex((item) => isMap(item) && item.get('name') === name)
      if (index >= 0) {
        seq.items.splice(index, 1)
        changes.push(`apiServer.extraArgs -${name}`)
      }
    }
  } else {
    if (!isMap(doc.getIn(argsPath, true))) doc.setIn(argsPath, doc.createNode({}))
    for (const [name, value] of Object.entries(change.setArgs)) {
      if (doc.getIn([...argsPath, name]) === value) continue
      doc.setIn([...argsPath, name], value)
      changes.push(`apiServer.extraArgs ${name}=${value}`)
    }
    for (const name of change.removeArgs) {
      if (doc.hasIn([...argsPath, name])) {
        doc.deleteIn([...argsPath, name])
        changes.push(`apiServer.extraArgs -${name}`)
      }
    }
  }
  const volumesPath = ['apiServer', 'extraVolumes']
  if (change.addVolumes.length > 0 && !isSeq(doc.getIn(volumesPath, true))) doc.setIn(volumesPath, doc.createNode([]))
  const volumes = doc.getIn(volumesPath, true) as YAMLSeq<YAMLMap> | undefined
  for (const volume of change.addVolumes) {
    if (volumes!.items.some((item) => isMap(item) && item.get('name') === volume.name)) continue
    volumes!.items.push(
      doc.createNode({
        name: volume.name,
        hostPath: volume.path,
        mountPath: volume.path,
        readOnly: true,
        pathType: 'DirectoryOrCreate',
      }) as YAMLMap,
    )
    changes.push(`apiServer.extraVolumes +${volume.name} (${volume.path})`)
  }
  for (const name of change.removeVolumes) {
    const index = volumes?.items.findIndex((item) => isMap(item) && item.get('name') === name) ?? -1
    if (index >= 0) {
      volumes!.items.splice(index, 1)
      changes.push(`apiServer.extraVolumes -${name}`)
    }
  }
  return {text: changes.length > 0 ? doc.toString({indentSeq: sequencesIndented(text)}) : text, changes}
}

/** Does the text indent block sequences under their key (`key:\n  - a`) or not (`key:\n- a`, kubeadm's style)? */
function sequencesIndented(text: string): boolean {
  const match = /^( *)[^\s#][^\n]*:\n( *)- /m.exec(text)
  return match ? match[2].length > match[1].length : false
}

/** Record the change in ConfigMap kube-system/kubeadm-config, guarded by its resourceVersion. */
export async function persistToKubeadmConfig(client: KubeClient, change: KubeadmApiServerChange): Promise<string[]> {
  const target = {resource: 'configmaps', namespace: 'kube-system', name: 'kubeadm-config'}
  const configMap = await client.call({verb: 'get', ...target}, () =>
    client.core.readNamespacedConfigMap({name: 'kubeadm-config', namespace: 'kube-system'}),
  )
  const text = configMap.data?.ClusterConfiguration
  if (typeof text !== 'string')
    throw new UserError('ConfigMap kube-system/kubeadm-config has no ClusterConfiguration; is this a kubeadm cluster?')
  const edited = editClusterConfiguration(text, change)
  if (edited.changes.length === 0) return []
  await client.call({verb: 'update', ...target}, () =>
    client.core.replaceNamespacedConfigMap({
      name: 'kubeadm-config',
      namespace: 'kube-system',
      body: {...configMap, data: {...configMap.data, ClusterConfiguration: edited.text}},
    }),
  )
  return edited.changes
}

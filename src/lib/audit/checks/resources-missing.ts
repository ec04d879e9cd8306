import {checkHelpUri, type ContainerCheck} from './types.js'

export const resourcesMissing: ContainerCheck = {
  id: 'resources-missing',
  kind: 'container',
  severity: 'medium',
  title: 'No CPU or memory limit',
  description:
    'Without CPU and memory limits a container can starve its neighbours on the node (noisy neighbour, or a denial of service through memory exhaustion).',
  helpUri: checkHelpUri('resources-missing'),
  fix: 'Set resources.limits.memory and resources.limits.cpu (and requests).',
  run({container, field}) {
    // Ephemeral containers may not set resources at all.
    if (field === 'ephemeralContainers') return []
    const limits = container.resources?.limits ?? {}
    const missing = ['memory', 'cpu'].filter(
      (resource) => limits[resource] === undefined || limits[resource] === null || limits[resource] === '',
    )
    return missing.length > 0 ? [`container "${container.name}" has no ${missing.join(' or ')} limit`] : []
  },
}

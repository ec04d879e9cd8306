import type {Check} from './types.js'

export const resourcesMissing: Check = {
  id: 'resources-missing',
  severity: 'medium',
  title: 'No CPU or memory limit',
  fix: 'Set resources.limits.memory and resources.limits.cpu (and requests).',
  run({container, field}) {
    // Ephemeral containers may not set resources at all.
    if (field === 'ephemeralContainers') return []
    const limits = container.resources?.limits ?? {}
    const missing = ['memory', 'cpu'].filter((resource) => limits[resource] === undefined || limits[resource] === null || limits[resource] === '')
    return missing.length > 0 ? [`container "${container.name}" has no ${missing.join(' or ')} limit`] : []
  },
}

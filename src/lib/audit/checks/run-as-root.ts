import {effectiveSecurityField, type Check} from './types.js'

export const runAsRoot: Check = {
  id: 'run-as-root',
  severity: 'high',
  title: 'Container may run as root',
  fix: 'Set securityContext.runAsNonRoot: true and a non-zero runAsUser (pod or container level), and use an image with a non-root USER.',
  run(target) {
    const user = effectiveSecurityField(target, 'runAsUser')
    if (user === 0) return [`container "${target.container.name}" runs as UID 0 (runAsUser: 0)`]
    if (effectiveSecurityField(target, 'runAsNonRoot') !== true) return [`container "${target.container.name}" does not set runAsNonRoot: true, so it runs as root if the image says so`]
    return []
  },
}

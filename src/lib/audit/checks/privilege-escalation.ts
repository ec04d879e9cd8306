import type {Check} from './types.js'

export const privilegeEscalation: Check = {
  id: 'privilege-escalation',
  severity: 'high',
  title: 'Privilege escalation allowed',
  fix: 'Set securityContext.allowPrivilegeEscalation: false on the container.',
  run({container}) {
    // Container-level only: PodSecurityContext has no such field; the default is true.
    if (container.securityContext?.allowPrivilegeEscalation === false) return []
    return [`container "${container.name}" does not set allowPrivilegeEscalation: false (setuid binaries can gain privileges)`]
  },
}

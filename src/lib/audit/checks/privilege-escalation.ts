import {checkHelpUri, type ContainerCheck} from './types.js'

export const privilegeEscalation: ContainerCheck = {
  id: 'privilege-escalation',
  kind: 'container',
  severity: 'high',
  title: 'Privilege escalation allowed',
  description:
    'allowPrivilegeEscalation defaults to true: setuid binaries (and file capabilities) in the image can give a process more privileges than its parent.',
  helpUri: checkHelpUri('privilege-escalation'),
  fix: 'Set securityContext.allowPrivilegeEscalation: false on the container.',
  run({container}) {
    // Container-level only: PodSecurityContext has no such field; the default is true.
    if (container.securityContext?.allowPrivilegeEscalation === false) return []
    return [
      `container "${container.name}" does not set allowPrivilegeEscalation: false (setuid binaries can gain privileges)`,
    ]
  },
}

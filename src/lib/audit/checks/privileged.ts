import {checkHelpUri, type ContainerCheck} from './types.js'

export const privileged: ContainerCheck = {
  id: 'privileged',
  kind: 'container',
  severity: 'critical',
  title: 'Privileged container',
  description:
    "A privileged container has every capability and access to the host's devices: it is as powerful as root on the node.",
  helpUri: checkHelpUri('privileged'),
  fix: 'Remove securityContext.privileged; grant only the capabilities the program needs.',
  run: ({container}) =>
    container.securityContext?.privileged === true
      ? [`container "${container.name}" is privileged: it has every capability and the host's devices`]
      : [],
}

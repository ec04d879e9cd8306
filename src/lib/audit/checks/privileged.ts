import type {Check} from './types.js'

export const privileged: Check = {
  id: 'privileged',
  severity: 'critical',
  title: 'Privileged container',
  fix: 'Remove securityContext.privileged; grant only the capabilities the program needs.',
  run: ({container}) => (container.securityContext?.privileged === true ? [`container "${container.name}" is privileged: it has every capability and the host's devices`] : []),
}

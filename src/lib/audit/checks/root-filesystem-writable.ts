import type {Check} from './types.js'

export const rootFilesystemWritable: Check = {
  id: 'root-filesystem-writable',
  severity: 'medium',
  title: 'Root filesystem is writable',
  fix: 'Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the program must write.',
  run: ({container}) => (container.securityContext?.readOnlyRootFilesystem === true ? [] : [`container "${container.name}" has a writable root filesystem`]),
}

import {checkHelpUri, type ContainerCheck} from './types.js'

export const rootFilesystemWritable: ContainerCheck = {
  id: 'root-filesystem-writable',
  kind: 'container',
  severity: 'medium',
  title: 'Root filesystem is writable',
  description:
    'A writable root filesystem lets an attacker drop tools or modify binaries in the container; read-only forces writes into declared volumes.',
  helpUri: checkHelpUri('root-filesystem-writable'),
  fix: 'Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the program must write.',
  run: ({container}) =>
    container.securityContext?.readOnlyRootFilesystem === true
      ? []
      : [`container "${container.name}" has a writable root filesystem`],
}

import {checkHelpUri, type ContainerCheck} from './types.js'

// Capabilities that give host-level power or network spoofing; NET_RAW is in the runtime defaults.
const DANGEROUS = new Set([
  'ALL',
  'SYS_ADMIN',
  'NET_ADMIN',
  'NET_RAW',
  'SYS_PTRACE',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_BOOT',
  'SYS_TIME',
  'DAC_READ_SEARCH',
  'DAC_OVERRIDE',
  'BPF',
  'PERFMON',
  'MAC_ADMIN',
  'MAC_OVERRIDE',
  'SYS_CHROOT',
  'SETUID',
  'SETGID',
  'CHOWN',
  'FOWNER',
  'MKNOD',
  'SETFCAP',
])

const normalize = (cap: unknown) => String(cap).toUpperCase().replace(/^CAP_/, '')

export const capabilitiesNotDropped: ContainerCheck = {
  id: 'capabilities-not-dropped',
  kind: 'container',
  severity: 'medium',
  title: 'Capabilities not dropped',
  description: `Without drop: ["ALL"] a container keeps the runtime's default capabilities (CHOWN, SETUID, NET_RAW, …): an attacker in the container can spoof traffic or change file ownership.`,
  helpUri: checkHelpUri('capabilities-not-dropped'),
  fix: 'Set securityContext.capabilities.drop: ["ALL"] and add back only what is needed (e.g. NET_BIND_SERVICE).',
  run({container}) {
    const drop: unknown[] = container.securityContext?.capabilities?.drop ?? []
    // containerd and CRI-O treat only the literal "ALL" as every capability: "CAP_ALL" or "all" drops nothing.
    return drop.includes('ALL')
      ? []
      : [`container "${container.name}" keeps the runtime's default capabilities (no drop: ["ALL"])`]
  },
}

export const capabilitiesAdded: ContainerCheck = {
  id: 'capabilities-added',
  kind: 'container',
  severity: 'high',
  title: 'Dangerous capabilities added',
  description:
    'Capabilities such as SYS_ADMIN, NET_ADMIN or SYS_PTRACE give a container powers over the host kernel or network; a compromise of the container reaches the node.',
  helpUri: checkHelpUri('capabilities-added'),
  fix: 'Remove the capability from securityContext.capabilities.add, or run that part on a dedicated, isolated node.',
  run({container}) {
    const added: unknown[] = container.securityContext?.capabilities?.add ?? []
    const dangerous = added.map(normalize).filter((cap) => DANGEROUS.has(cap))
    return dangerous.length > 0 ? [`container "${container.name}" adds ${dangerous.join(', ')}`] : []
  },
}

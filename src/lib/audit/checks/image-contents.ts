// What `--inspect` found in an image's merged file system: the "not distroless" checks and
// setuid files (dockle CIS-DI-0008). Each reads the facts; none does I/O.
import type {ImageFacts} from '../../image/image-facts.js'
import type {ImagePolicy} from '../../policy/policy.js'
import {checkHelpUri, type ContainerCheck, factsOf, imageLabel} from './types.js'

const MAX_PATHS = 10

/** `/bin/sh, /bin/bash` (at most ten, then how many more). */
export function pathList(paths: readonly string[]): string {
  const shown = paths.slice(0, MAX_PATHS).join(', ')
  return paths.length > MAX_PATHS ? `${shown} and ${paths.length - MAX_PATHS} more` : shown
}

function contentsCheck(
  rule: Omit<ContainerCheck, 'kind' | 'run' | 'helpUri'>,
  found: (facts: ImageFacts) => readonly string[],
  what: string,
  raise?: (policy: ImagePolicy) => string | undefined,
): ContainerCheck {
  return {
    ...rule,
    kind: 'container',
    helpUri: checkHelpUri(rule.id),
    run(target, context) {
      const all = factsOf(target, context)
      return all.flatMap((facts) => {
        const paths = found(facts)
        if (paths.length === 0) return []
        const message = `${imageLabel(facts, all)} has ${what}: ${pathList(paths)}`
        const rule = raise?.(context.policy)
        return [rule ? {message: `${message} (policy: ${rule})`, severity: 'high' as const} : message]
      })
    },
  }
}

export const imageHasShell = contentsCheck(
  {
    id: 'image-has-shell',
    severity: 'medium',
    title: 'Image has a shell',
    description:
      'A shell (sh, bash, ash, dash, busybox) in the image lets whoever gets code execution in the container run anything, and `kubectl exec` into it; distroless images have none.',
    fix: 'Build FROM a distroless or scratch base (multi-stage build), or remove the shell in the final stage; debug with `kubectl debug` ephemeral containers instead.',
  },
  (facts) => facts.shells,
  'a shell',
  (policy) => (policy.forbidShell ? 'forbidShell' : undefined),
)

export const imageHasPackageManager = contentsCheck(
  {
    id: 'image-has-package-manager',
    severity: 'medium',
    title: 'Image has a package manager',
    description:
      'A package manager (apt/dpkg, apk, yum/dnf/rpm/microdnf) lets an intruder install tools in the running container; a minimal image installs its packages at build time only.',
    fix: 'Install packages in a build stage and copy the result into a distroless or minimal final image.',
  },
  (facts) => facts.packageManagers,
  'a package manager',
)

export const imageHasNetworkTools = contentsCheck(
  {
    id: 'image-has-network-tools',
    severity: 'low',
    title: 'Image has network tools',
    description:
      'curl, wget and nc are what an intruder uses first: to download tools and to move data out. An application image rarely needs them at run time.',
    fix: 'Leave network tools out of the final image (a multi-stage build), or use a distroless base.',
  },
  (facts) => facts.networkTools,
  'network tools',
)

export const imageSetuidFiles = contentsCheck(
  {
    id: 'image-setuid-files',
    severity: 'info',
    title: 'Image has setuid or setgid files',
    description:
      'Setuid and setgid files run with their owner’s rights (usually root): a way back to root for a process that dropped it (dockle CIS-DI-0008). Informational: base images ship a few (passwd, su).',
    fix: 'Remove the setuid/setgid bits in the Dockerfile (`RUN find / -perm /6000 -type f -exec chmod a-s {} +`), and set allowPrivilegeEscalation: false.',
  },
  (facts) => facts.setuidFiles.map((file) => `${file.path} (${file.mode})`),
  'setuid/setgid files',
)

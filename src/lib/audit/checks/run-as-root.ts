import {isRootUser} from '../../image/image-facts.js'
import {checkHelpUri, type ContainerCheck, effectiveSecurityField, factsOf} from './types.js'

export const runAsRoot: ContainerCheck = {
  id: 'run-as-root',
  kind: 'container',
  severity: 'high',
  title: 'Container may run as root',
  description:
    "Without runAsNonRoot: true the container runs as root whenever the image's USER is root; root in a container is one kernel bug away from root on the node.",
  helpUri: checkHelpUri('run-as-root'),
  fix: 'Set securityContext.runAsNonRoot: true and a non-zero runAsUser (pod or container level), and use an image with a non-root USER.',
  run(target, context) {
    const user = effectiveSecurityField(target, 'runAsUser')
    if (user === 0) return [`container "${target.container.name}" runs as UID 0 (runAsUser: 0)`]
    if (effectiveSecurityField(target, 'runAsNonRoot') === true) return []
    // A non-zero runAsUser overrides the image's USER: the container is not root. Pod Security
    // "restricted" still wants runAsNonRoot, which makes the kubelet refuse UID 0 whatever is edited later.
    if (typeof user === 'number')
      return [
        {
          message: `container "${target.container.name}" runs as UID ${user} (runAsUser), not root, but does not set runAsNonRoot: true, which Pod Security "restricted" requires`,
          severity: 'medium',
        },
      ]
    // --inspect knows what the image says: a non-root USER is the answer this check can only guess.
    const users = [...new Set(factsOf(target, context).map((facts) => facts.user))]
    const nonRoot = users.length > 0 && users.every((u) => !isRootUser(u))
    return [
      `container "${target.container.name}" does not set runAsNonRoot: true, so it runs as root if the image says so${nonRoot ? `; the image sets USER "${users.join('", "')}" (not root), so it does not today` : ''}`,
    ]
  },
}

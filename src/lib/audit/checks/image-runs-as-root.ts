import {describeImageUser, isRootUser} from '../../image/image-facts.js'
import {
  type CheckResult,
  checkHelpUri,
  type ContainerCheck,
  effectiveSecurityField,
  factsOf,
  imageLabel,
} from './types.js'

// The image's real user (`--inspect`), where the spec-only run-as-root check can only guess.
export const imageRunsAsRoot: ContainerCheck = {
  id: 'image-runs-as-root',
  kind: 'container',
  severity: 'high',
  title: 'Image runs as root',
  description:
    "The image's config sets no USER, or USER 0/root, and the pod does not set a non-zero runAsUser: the container's processes run as root (dockle CIS-DI-0001).",
  helpUri: checkHelpUri('image-runs-as-root'),
  fix: 'Add a non-root USER to the Dockerfile (distroless: the :nonroot tags), or set a non-zero runAsUser with runAsNonRoot: true in the pod.',
  run(target, context) {
    const runAsUser = effectiveSecurityField(target, 'runAsUser')
    if (typeof runAsUser === 'number' && runAsUser !== 0) return []
    const all = factsOf(target, context)
    return all.flatMap((facts): CheckResult[] => {
      if (!isRootUser(facts.user)) return []
      const label = `${imageLabel(facts, all)} ${describeImageUser(facts.user)}`
      if (effectiveSecurityField(target, 'runAsNonRoot') === true && runAsUser === undefined)
        return [
          {
            message: `${label}, so it runs as root; runAsNonRoot: true makes the kubelet refuse to start container "${target.name}" (CreateContainerConfigError) until a non-zero runAsUser is set`,
            severity: 'medium' as const,
          },
        ]
      const message = `${label} and container "${target.name}" sets no non-zero runAsUser, so it runs as root`
      // The policy's requireNonRootImage makes it a rule, not advice (the webhook refuses such images).
      return [
        context.policy.requireNonRootImage
          ? {message: `${message} (policy: requireNonRootImage)`, severity: 'critical'}
          : message,
      ]
    })
  },
}

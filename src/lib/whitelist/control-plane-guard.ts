// What a whitelist policy would do to the control plane: the images kube-system runs must stay
// admitted, and their contents must not be read at admission (a registry that does not answer, or
// a control-plane image that runs as root, would block the control plane). A refusal unless forced.
import {UserError} from '../errors.js'
import {evaluateImage, type ImagePolicy, needsImageFacts} from '../policy/policy.js'

/** The problems `policy` would cause in kube-system: its own images, and `extraImages` (the backend's). */
export function controlPlaneProblems(policy: ImagePolicy, extraImages: string[]): string[] {
  const problems: string[] = []
  const controlPlaneImages = [
    'registry.k8s.io/kube-apiserver:v1.32.0',
    'registry.k8s.io/coredns/coredns:v1.11.3',
    'registry.k8s.io/pause:3.10',
    ...extraImages,
  ]
  for (const image of controlPlaneImages) {
    const verdict = evaluateImage(image, {namespace: 'kube-system'}, policy)
    if (!verdict.allowed)
      problems.push(
        `the policy would refuse ${image} in kube-system (${verdict.violations.map((v) => v.rule).join(', ')}); keep kube-system in exemptNamespaces or allow the image`,
      )
  }
  if (needsImageFacts(policy) && !evaluateImage(controlPlaneImages[0], {namespace: 'kube-system'}, policy).exempt)
    problems.push(
      "the policy reads the contents of kube-system's images (requireNonRootImage, forbidShell or maxImageAgeDays): control-plane images that run as root, or a registry that does not answer, would block the control plane; keep kube-system in exemptNamespaces",
    )
  return problems
}

/** Refuse (unless forced) a policy that would block the control plane; forced problems become warnings. */
export function acceptPolicyProblems(problems: string[], force: boolean): string[] {
  if (problems.length > 0 && !force)
    throw new UserError(
      `refusing a policy that would block the control plane:\n  ${problems.join('\n  ')}\npass --force to enable it anyway`,
    )
  return problems.map((problem) => `forced despite: ${problem}`)
}

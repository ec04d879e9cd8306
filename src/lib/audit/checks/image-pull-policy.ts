import {effectiveTag} from '../../image/image-reference.js'
import {checkHelpUri, type ContainerCheck} from './types.js'

/** Kubernetes' defaulting of imagePullPolicy: Always for :latest or no tag, IfNotPresent otherwise (a digest included). */
export function effectivePullPolicy(
  imagePullPolicy: string | undefined,
  tag: string | undefined,
  digest: string | undefined,
): string {
  if (imagePullPolicy) return imagePullPolicy
  if (digest) return 'IfNotPresent'
  return tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent'
}

export const imagePullPolicy: ContainerCheck = {
  id: 'image-pull-policy',
  kind: 'container',
  severity: 'medium',
  title: 'Mutable tag without imagePullPolicy: Always',
  description:
    "With a mutable tag and imagePullPolicy IfNotPresent (Kubernetes' default for non-latest tags), each node keeps whatever the tag pointed to when it first pulled it: replicas may run different content.",
  helpUri: checkHelpUri('image-pull-policy'),
  fix: 'Pin the image by digest, or set imagePullPolicy: Always so every node runs what the tag points to now.',
  run({container, reference, image}) {
    // A digest names immutable content: any pull policy gives the same image.
    if (!reference || reference.digest) return []
    const policy = effectivePullPolicy(container.imagePullPolicy, reference.tag, reference.digest)
    if (policy === 'Always') return []
    const how = container.imagePullPolicy ? `imagePullPolicy is ${policy}` : `imagePullPolicy defaults to ${policy}`
    return [
      `${image} uses the mutable tag :${effectiveTag(reference)} and ${how}: nodes may run different content under the same tag`,
    ]
  },
}

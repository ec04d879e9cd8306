import {checkHelpUri, type ContainerCheck} from './types.js'

export const imageDigestMissing: ContainerCheck = {
  id: 'image-digest-missing',
  kind: 'container',
  severity: 'low',
  title: 'Image is not pinned by digest',
  description:
    'A tag can be moved to other content at any time (by a release, a mistake or an attacker with push rights); only a digest names exactly one image.',
  helpUri: checkHelpUri('image-digest-missing'),
  fix: 'Pin the image by digest (image: repo:tag@sha256:…); `kubectl imgsec audit images --resolve-digests --fix` can do it.',
  run({reference, image}, {policy}) {
    if (!reference || reference.digest) return []
    const message = `${image} is not pinned by digest; the tag can be moved to other content`
    // When the policy requires digests, a missing one is as serious as the admission refusal it causes.
    return [policy.requireDigest ? {message, severity: 'high'} : message]
  },
}

import type {Check} from './types.js'

export const imageDigestMissing: Check = {
  id: 'image-digest-missing',
  severity: 'low',
  title: 'Image is not pinned by digest',
  fix: 'Pin the image by digest (image: repo:tag@sha256:…); `kubectl imgsec audit images --resolve-digests --fix` can do it.',
  run({reference, image}, {policy}) {
    if (!reference || reference.digest) return []
    const message = `${image} is not pinned by digest; the tag can be moved to other content`
    // When the policy requires digests, a missing one is as serious as the admission refusal it causes.
    return [policy.requireDigest ? {message, severity: 'high'} : message]
  },
}

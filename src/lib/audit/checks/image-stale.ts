import {imageAgeDays} from '../../image/image-facts.js'
import {DEFAULT_MAX_IMAGE_AGE_DAYS} from '../../policy/policy.js'
import {checkHelpUri, type ContainerCheck, factsOf, imageLabel} from './types.js'

export const imageStale: ContainerCheck = {
  id: 'image-stale',
  kind: 'container',
  severity: 'medium',
  title: 'Image is old',
  description:
    "The image was built (its config's `created`) longer ago than the policy allows (maxImageAgeDays, default 365): its packages miss every fix published since.",
  helpUri: checkHelpUri('image-stale'),
  fix: 'Rebuild the image on a current base image regularly (a scheduled CI build) and redeploy.',
  run(target, context) {
    const {inspected, policy} = context
    if (!inspected) return []
    const all = factsOf(target, context)
    return all.flatMap((facts) => {
      const days = imageAgeDays(facts.created, inspected.now)
      const allowed = policy.maxImageAgeDays ?? DEFAULT_MAX_IMAGE_AGE_DAYS
      if (days === undefined || days <= allowed) return []
      return [
        `${imageLabel(facts, all)} was built ${days} days ago (created ${facts.created}), more than maxImageAgeDays (${allowed})`,
      ]
    })
  },
}

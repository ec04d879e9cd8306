import {checkHelpUri, type ContainerCheck, factsOf, imageLabel} from './types.js'

const DAY_MS = 24 * 60 * 60 * 1000

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
      const created = facts.created ? Date.parse(facts.created) : Number.NaN
      // Reproducible builds set created to the epoch: no date, not an old image.
      if (!Number.isFinite(created) || created <= 0) return []
      const days = Math.floor((inspected.now - created) / DAY_MS)
      if (days <= policy.maxImageAgeDays) return []
      return [
        `${imageLabel(facts, all)} was built ${days} days ago (created ${facts.created}), more than maxImageAgeDays (${policy.maxImageAgeDays})`,
      ]
    })
  },
}

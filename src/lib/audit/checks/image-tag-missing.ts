import {type Check, policyRuleMessages} from './types.js'

// A digest-only reference (nginx@sha256:…) is pinned: the policy engine never reports it here.
export const imageTagMissing: Check = {
  id: 'image-tag-missing',
  severity: 'high',
  title: 'Image has neither tag nor digest (means :latest)',
  fix: 'Add a specific version tag or a digest to the image.',
  run: policyRuleMessages('image-tag-missing'),
}

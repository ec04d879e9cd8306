import {checkHelpUri, type ContainerCheck, policyRuleMessages} from './types.js'

// A digest-only reference (nginx@sha256:…) is pinned: the policy engine never reports it here.
export const imageTagMissing: ContainerCheck = {
  id: 'image-tag-missing',
  kind: 'container',
  severity: 'high',
  title: 'Image has neither tag nor digest (means :latest)',
  description:
    'An image without tag or digest means :latest, with the same problems: the content changes with every push.',
  helpUri: checkHelpUri('image-tag-missing'),
  fix: 'Add a specific version tag or a digest to the image.',
  run: policyRuleMessages('image-tag-missing'),
}

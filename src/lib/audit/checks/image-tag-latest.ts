import {checkHelpUri, type ContainerCheck, policyRuleMessages} from './types.js'

export const imageTagLatest: ContainerCheck = {
  id: 'image-tag-latest',
  kind: 'container',
  severity: 'high',
  title: 'Image uses the mutable :latest tag',
  description:
    ':latest changes with every push: what runs depends on when each node pulled, and a rollback cannot name the previous version.',
  helpUri: checkHelpUri('image-tag-latest'),
  fix: 'Use a specific version tag (nginx:1.27.2), or better a digest (nginx@sha256:…).',
  // The runtime pulls the digest when there is one: `nginx:latest@sha256:…` is pinned. (The admission
  // policy is unchanged: the webhook and the ValidatingAdmissionPolicy judge the tag as written.)
  run: (target, context) => (target.reference?.digest ? [] : policyRuleMessages('image-tag-latest')(target, context)),
}

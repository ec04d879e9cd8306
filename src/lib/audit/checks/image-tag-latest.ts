import {type Check, policyRuleMessages} from './types.js'

export const imageTagLatest: Check = {
  id: 'image-tag-latest',
  severity: 'high',
  title: 'Image uses the mutable :latest tag',
  fix: 'Use a specific version tag (nginx:1.27.2), or better a digest (nginx@sha256:…).',
  run: policyRuleMessages('image-tag-latest'),
}

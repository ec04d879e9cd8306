import {checkHelpUri, type ContainerCheck, policyRuleMessages} from './types.js'

// Reported only when an allowlist is given (policy file or --allowed-registries).
export const imageRegistryNotAllowed: ContainerCheck = {
  id: 'image-registry-not-allowed',
  kind: 'container',
  severity: 'critical',
  title: 'Image comes from a registry that is not allowed',
  description:
    'Only registries on the allowlist (policy allowedRegistries or --allowed-registries) are trusted; an image from elsewhere bypasses the review and scanning those registries get.',
  helpUri: checkHelpUri('image-registry-not-allowed'),
  fix: 'Mirror the image into an allowed registry, or add its registry to allowedRegistries.',
  run: policyRuleMessages('image-registry-not-allowed'),
}

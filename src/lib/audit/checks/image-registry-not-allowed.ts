import {type Check, policyRuleMessages} from './types.js'

// Reported only when an allowlist is given (policy file or --allowed-registries).
export const imageRegistryNotAllowed: Check = {
  id: 'image-registry-not-allowed',
  severity: 'critical',
  title: 'Image comes from a registry that is not allowed',
  fix: 'Mirror the image into an allowed registry, or add its registry to allowedRegistries.',
  run: policyRuleMessages('image-registry-not-allowed'),
}

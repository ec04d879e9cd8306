// A backend the user runs: we only point the API server at --webhook-url, trusting --webhook-ca.

import {readCaBundle} from '../../pem.js'
import type {ResolvedEnableOptions} from '../plan.js'
import {bestEffortVersionWarning} from '../smoke.js'
import type {BackendPlacement} from './placement.js'

type ExternalOptions = Extract<ResolvedEnableOptions, {placement: 'external'}>

/** --webhook-ca must be a readable PEM certificate: the API server trusts the backend by it. */
export function checkWebhookCa(file: string): void {
  readCaBundle('--webhook-ca', file)
}

export const externalPlacement: BackendPlacement<ExternalOptions> = {
  policyNeeds: () => ({exemptNamespaces: [], controlPlaneImages: []}),

  // The user's backend reads the keys where the user keeps them: the policy names them as given.
  keyDir: () => undefined,

  check(options, dryRun) {
    if (!dryRun) checkWebhookCa(options.webhookCa)
  },

  async preflight(options, context) {
    if (!context.dryRun) {
      const warning = await bestEffortVersionWarning(context.cluster)
      if (warning) context.warnNow(warning)
    }
    return {webhookUrl: options.webhookUrl, servingHosts: [], caFile: options.webhookCa}
  },

  // Nothing of ours runs: the plan is the shared files and the manifest edit. The policy is the
  // user's to give their backend; what requireSignature asks of it is said once, as a warning.
  plan: (options, {policy}) => ({
    preview: [],
    files: [],
    reportsPolicyDigest: false,
    notAnsweringHint: '',
    warnings: policy.requireSignature
      ? [
          `the policy requires signatures (requireSignature), which the backend at ${options.webhookUrl} must verify itself: nothing of it is sent there. Run it with the policy that --dry-run=client prints, the trusted keys at the paths it names (${[...new Set(policy.requireSignature.flatMap((r) => r.keys.map((key) => key.name)))].join(', ')}), and registry credentials for the signatures if its registries need them ("kubectl imgsec webhook serve --policy FILE --docker-config FILE" does all three)`,
        ]
      : [],
  }),

  apply: async () => ({}),

  // Nothing in the cluster to delete.
  async preflightUndo() {},

  async undo() {},
}

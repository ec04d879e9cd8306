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

  // Nothing of ours runs: the plan is the shared files and the manifest edit.
  plan: () => ({preview: [], files: [], reportsPolicyDigest: false, notAnsweringHint: ''}),

  apply: async () => ({}),

  async undo() {},
}

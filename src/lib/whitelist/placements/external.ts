// A backend the user runs: we only point the API server at --webhook-url, trusting --webhook-ca.
import {X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {describeSystemError} from '../../describe-error.js'
import {UserError} from '../../errors.js'
import type {ResolvedEnableOptions} from '../plan.js'
import {bestEffortVersionWarning} from '../smoke.js'
import type {BackendPlacement} from './placement.js'

type ExternalOptions = Extract<ResolvedEnableOptions, {placement: 'external'}>

/** --webhook-ca must be a readable PEM certificate: the API server trusts the backend by it. */
export function checkWebhookCa(file: string): void {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UserError(`--webhook-ca ${file}: ${describeSystemError(error)}`)
  }
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)
  try {
    if (!pem) throw new Error('no PEM certificate')
    new X509Certificate(pem[0])
  } catch {
    throw new UserError(
      `--webhook-ca ${file}: not a PEM certificate (expected the CA certificate of the backend's serving certificate)`,
    )
  }
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

import {Flags} from '@oclif/core'

import {OUTPUT_FORMATS} from './output.js'

// Declared once, reused by every command (kubectl's genericclioptions). kubectl refuses flags
// before the plugin name, so they always come after `kubectl imgsec <command>`.
export const kubeconfigFlags = {
  kubeconfig: Flags.string({description: 'Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).', helpGroup: 'CLUSTER'}),
  context: Flags.string({description: 'The kubeconfig context to use.', helpGroup: 'CLUSTER'}),
  as: Flags.string({description: 'Username to impersonate for the operation.', helpGroup: 'CLUSTER'}),
}

export const namespaceFlag = Flags.string({char: 'n', description: "Namespace (default: the context's namespace, else default).", helpGroup: 'CLUSTER'})

export const allNamespacesFlag = Flags.boolean({char: 'A', description: 'Every namespace of the cluster.', helpGroup: 'CLUSTER', default: false})

export const outputFlag = Flags.option({
  char: 'o',
  description: 'Output format (default: a human summary).',
  options: OUTPUT_FORMATS,
})()

export const dryRunFlag = Flags.option({
  description: 'client: print what would be sent, contact nothing; server: the API server validates, nothing is stored.',
  options: ['none', 'client', 'server'] as const,
  default: 'none' as const,
})()

export const debugFlag = Flags.boolean({description: 'Show details of failures on stderr (never secrets).', default: false})

export type DryRun = 'none' | 'client' | 'server'

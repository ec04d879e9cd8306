import {Flags} from '@oclif/core'

import type {KubeTargetOptions} from '../lib/cluster/kubeconfig.js'
import {UserError} from '../lib/errors.js'
import {DEFAULT_BACKUP_DIR, DEFAULT_CONFIG_DIR} from '../lib/controlplane/paths.js'
import {OUTPUT_FORMATS} from './output.js'
import {splitCommaList} from '../lib/comma-list.js'

// Declared once, reused by every command (kubectl's genericclioptions). kubectl refuses flags
// before the plugin name, so they always come after `kubectl imgsec <command>`.
export const kubeconfigFlags = {
  kubeconfig: Flags.string({
    description: 'Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).',
    helpGroup: 'CLUSTER',
  }),
  context: Flags.string({description: 'The kubeconfig context to use.', helpGroup: 'CLUSTER'}),
  as: Flags.string({description: 'Username to impersonate for the operation.', helpGroup: 'CLUSTER'}),
  'request-timeout': Flags.string({
    description: 'How long one API request may take before it is given up (30s, 1m, or seconds; 0: no limit).',
    helpGroup: 'CLUSTER',
    default: '30s',
  }),
}

/** A fleet audit's clusters (audit images): several contexts of the merged kubeconfig, read at once. */
export const fleetFlags = {
  contexts: listFlag({
    description:
      'Audit the clusters of these kubeconfig contexts, comma-separated or repeated; findings are keyed by context.',
    helpGroup: 'CLUSTER',
  }),
  'all-contexts': Flags.boolean({
    description: 'Audit the cluster of every context of the kubeconfig (as kubectl merges it).',
    helpGroup: 'CLUSTER',
    default: false,
  }),
  'max-concurrency': Flags.integer({
    description: 'With --contexts or --all-contexts: how many clusters are read at once.',
    helpGroup: 'CLUSTER',
    default: 4,
    min: 1,
  }),
}

export const namespaceFlag = Flags.string({
  char: 'n',
  description: "Namespace (default: the context's namespace, else default).",
  helpGroup: 'CLUSTER',
})

export const allNamespacesFlag = Flags.boolean({
  char: 'A',
  description: 'Every namespace of the cluster.',
  helpGroup: 'CLUSTER',
  default: false,
})

export const outputFlag = Flags.option({
  char: 'o',
  description: 'Output format (default: a human summary).',
  options: OUTPUT_FORMATS,
})()

export const dryRunFlag = Flags.option({
  description:
    'client: print what would be sent, contact nothing; server: the API server validates, nothing is stored.',
  options: ['none', 'client', 'server'] as const,
  default: 'none' as const,
})()

export const debugFlag = Flags.boolean({
  description: 'Show details of failures on stderr (never secrets).',
  default: false,
})

export type {DryRun} from '../lib/cluster/objects.js'

/**
 * A comma-separated list flag: the command sees `string[]` (read it with `flatList`). Repeating the
 * flag (`--x a --x b,c`) adds to the list, as kubectl's StringSlice flags do.
 */
export function listFlag(options: {
  description: string
  helpGroup?: string
  exclusive?: string[]
  dependsOn?: string[]
}) {
  return Flags.string({...options, multiple: true, delimiter: ','})
}

/** The values of a list flag, trimmed, without empty items (undefined when the flag was not given). */
export function flatList(values: string[] | undefined): string[] | undefined {
  return values === undefined ? undefined : values.flatMap((value) => splitCommaList(value))
}

export const allowedRegistriesFlag = (more = '') =>
  listFlag({
    description: `Comma-separated registry allowlist: host, host:port, host/path prefix, *.domain.${more ? ` ${more}` : ''}`,
  })

/** Where `whitelist enable` keeps certificates, policy and configuration files. */
export const configDirFlag = (description = 'The directory "whitelist enable" used.') =>
  Flags.string({description, default: DEFAULT_CONFIG_DIR})

/** Where manifest backups go: outside the manifests directory (the kubelet runs every file there). */
export const backupDirFlag = (
  description = 'Where backups are kept (outside the manifests directory).',
  defaultDir = DEFAULT_BACKUP_DIR,
) => Flags.string({description, default: defaultDir})

/**
 * Only the flags that say which cluster and as whom (kubectl's ConfigFlags): never the whole flag
 * object, whose `-n` may mean something else for the command (e.g. where a backend runs).
 */
export function kubeTarget(flags: KubeTargetFlags): KubeTargetOptions {
  return {kubeconfig: flags.kubeconfig, context: flags.context, as: flags.as, requestTimeout: flags['request-timeout']}
}

/** The flags kubeTarget reads (kubeconfigFlags, parsed). */
export interface KubeTargetFlags {
  kubeconfig?: string
  context?: string
  as?: string
  'request-timeout'?: string
}

/**
 * Give a flag with an optional value its default when it is bare (`--restore` → `--restore latest`):
 * oclif flags always take a value, kubectl's NoOptDefVal does not exist there.
 */
export function fillOptionalValue(argv: string[], flag: string, value: string, values?: readonly string[]): void {
  const index = argv.indexOf(flag)
  if (index < 0) return
  const next = argv[index + 1]
  const bare = next === undefined || next.startsWith('-') || (values !== undefined && !values.includes(next))
  if (bare) argv.splice(index + 1, 0, value)
}

/** The flags a user typed (not those filled from defaults), from oclif's parse metadata. */
export function givenFlags(
  flags: Record<string, unknown>,
  metadata: {flags: Record<string, {setFromDefault?: boolean} | undefined>},
): Set<string> {
  return new Set(
    Object.keys(flags).filter((name) => flags[name] !== undefined && !metadata.flags[name]?.setFromDefault),
  )
}

/** whitelist status, disable, add-registry, remove-registry: each of these flags belongs to one --mode. */
export function refuseOtherModeFlags(given: Set<string>, mode: string, webhookOnly: string[]): void {
  refuseInapplicable(given, [
    {flags: ['params-namespace'], appliesTo: 'with --mode vap', when: mode === 'vap'},
    {flags: webhookOnly, appliesTo: 'with --mode webhook (the default)', when: mode !== 'vap'},
  ])
}

/**
 * Refuse flags that do nothing in the chosen mode, with one line saying where they apply: a flag
 * silently ignored is a setting the user believes is in force.
 */
export function refuseInapplicable(
  given: Set<string>,
  rules: Array<{flags: string[]; appliesTo: string; when: boolean}>,
): void {
  for (const rule of rules) {
    if (rule.when) continue
    const flag = rule.flags.find((name) => given.has(name))
    if (flag) throw new UserError(`--${flag} applies only ${rule.appliesTo}`)
  }
}

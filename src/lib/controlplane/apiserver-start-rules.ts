// What kube-apiserver itself refuses at start, or what weakens a kubeadm control plane, checked on
// the flags a patch would leave behind. Each rule cites where Kubernetes enforces it.

import {splitCommaList} from '../comma-list.js'

/**
 * Flags kube-apiserver will not start without (a kubeadm manifest has all of them):
 * `--etcd-servers must be specified` (k8s.io/apiserver pkg/server/options/etcd.go),
 * `service-account-issuer is a required flag` and `either --service-account-key-file or
 * --service-account-signing-endpoint must be set` (pkg/kubeapiserver/options/authentication.go),
 * `--service-account-signing-key-file and --service-account-issuer are required flags`
 * (pkg/controlplane/apiserver/options/validation.go).
 */
const REQUIRED_FLAGS = [
  'etcd-servers',
  'service-account-issuer',
  'service-account-key-file',
  'service-account-signing-key-file',
]

/** Admission plugins whose factory fails without an entry in the admission configuration. */
const PLUGINS_NEEDING_CONFIG: Record<string, string> = {
  // plugin/pkg/admission/eventratelimit: without a configuration the defaulted one has no limits,
  // and its validation ("limits: must not be empty") stops the API server.
  EventRateLimit:
    'without one its default configuration has no limits and kube-apiserver refuses to start ("limits: Invalid value: … must not be empty")',
}

export interface StartCheck {
  /** The API server would not start: refused unless --force. */
  problems: string[]
  /** It would start, weaker than kubeadm made it. */
  warnings: string[]
}

/**
 * `before`/`after`: the manifest's flags; `configuredPlugins`: the plugin names of the admission
 * configuration the API server will read (undefined when there is none).
 */
export function checkApiserverStart(
  before: Map<string, string>,
  after: Map<string, string>,
  configuredPlugins: string[] | undefined,
): StartCheck {
  const problems: string[] = []
  const warnings: string[] = []
  for (const flag of REQUIRED_FLAGS) {
    if (before.has(flag) && !after.has(flag))
      problems.push(`--${flag} is required: kube-apiserver does not start without it`)
  }
  const enabledBefore = splitCommaList(before.get('enable-admission-plugins'))
  const enabledAfter = splitCommaList(after.get('enable-admission-plugins'))
  for (const [plugin, why] of Object.entries(PLUGINS_NEEDING_CONFIG)) {
    if (
      enabledAfter.includes(plugin) &&
      !enabledBefore.includes(plugin) &&
      !(configuredPlugins ?? []).includes(plugin)
    ) {
      problems.push(
        `${plugin} needs an entry in the admission configuration (--admission-config FILE with a plugins entry named ${plugin}): ${why}`,
      )
    }
  }
  const disabledAfter = splitCommaList(after.get('disable-admission-plugins'))
  if (
    enabledBefore.includes('NodeRestriction') &&
    (!enabledAfter.includes('NodeRestriction') || disabledAfter.includes('NodeRestriction'))
  ) {
    warnings.push(
      'NodeRestriction is no longer enabled: every kubelet could then modify any Node object and the pods bound to other nodes (kubeadm enables it, and the CIS Kubernetes Benchmark asks for it)',
    )
  }
  return {problems, warnings}
}

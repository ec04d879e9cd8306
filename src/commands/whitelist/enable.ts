import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {UserError} from '../../lib/errors.js'
import {allowedRegistriesFlag, backupDirFlag, configDirFlag, debugFlag, dryRunFlag, flatList, kubeconfigFlags} from '../../cli/flags.js'
import {DEFAULT_MANIFESTS_DIR} from '../../lib/controlplane/paths.js'

export const DEFAULT_BACKEND_IMAGE = 'gcr.io/distroless/nodejs20-debian12:nonroot'

export default class WhitelistEnable extends BaseCommand {
  static override summary = 'Enforce a registry allowlist with ImagePolicyWebhook: our own backend as a static pod, its certificates and files, and the API server flags.'

  static override description = `Run it as root on the control-plane node (on each one, when there are several). Order of work: policy check, certificates and files in --config-dir, the backend (a static pod on 127.0.0.1:--port; the kubelet runs it whatever admission says, so no deadlock), a test ImageReview through the exact URL the API server will use, and only then the kube-apiserver manifest (backed up, atomic; see patch-apiserver).

The ImagePolicyWebhook plugin itself exempts nothing: kube-apiserver asks the backend about every pod CREATE and UPDATE (label changes and finalizer removals included) and every ephemeral container, in every namespace. kube-system and the break-glass annotation alpha.image-policy.k8s.io/break-glass: "true" are exempted by our backend, so they only work while it answers. With --default-allow false (the default, as in the Kubernetes docs) a backend that cannot be reached refuses every pod creation and update in every namespace, kube-system included, and break-glass does nothing; deletions go on. With --default-allow true such pods are admitted unchecked, recorded only in the API server's audit log (imagepolicywebhook.image-policy.k8s.io/failed-open). Decisions are cached for --allow-ttl/--deny-ttl seconds.

Impact before change: when the kubeconfig reaches the cluster (on a control-plane node: --kubeconfig /etc/kubernetes/admin.conf), every running pod is reviewed as the API server would review its next update, and the workloads the new policy would refuse are listed per namespace (also with --dry-run=client; read-only). Refused workloads in kube-system stop the change unless --force.

Undo with "kubectl imgsec whitelist disable", or "kubectl imgsec patch-apiserver --restore" when the API server is down.`

  static override examples = [
    {description: 'The seeds\' whitelist, enforced for real', command: 'kubectl imgsec whitelist enable --allowed-registries docker.io,registry.k8s.io'},
    {description: 'No server at all: a ValidatingAdmissionPolicy (Kubernetes 1.30+)', command: 'kubectl imgsec whitelist enable --mode vap --allowed-registries docker.io,registry.k8s.io'},
    {description: 'Print the policy objects for GitOps', command: 'kubectl imgsec whitelist enable --mode vap --allowed-registries docker.io,registry.k8s.io --dry-run=client -o yaml'},
    {description: 'A backend you run yourself', command: 'kubectl imgsec whitelist enable --backend-placement external --webhook-url https://imgsec.example.com/image_policy --webhook-ca ca.crt --policy policy.yaml'},
  ]

  static override flags = {
    mode: Flags.option({description: 'webhook: ImagePolicyWebhook with a backend (needs the control-plane node); vap: a ValidatingAdmissionPolicy (Kubernetes ≥ 1.30), no server, applied through the API.', options: ['webhook', 'vap'] as const, default: 'webhook' as const})(),
    'params-namespace': Flags.string({description: '--mode vap: namespace of the ConfigMap holding the allowed registries.', default: 'kube-system'}),
    'break-glass': Flags.boolean({description: '--mode vap: honour the annotation alpha.image-policy.k8s.io/break-glass: "true" on a pod or a pod template (off by default: anyone who may create pods could bypass the allowlist with it); the audit log records imgsec-image-policy/break-glass: "true" for each use.', default: false}),
    'dry-run': dryRunFlag,
    output: Flags.option({char: 'o', description: '--mode vap with --dry-run: print the objects.', options: ['yaml', 'json'] as const})(),
    ...kubeconfigFlags,
    'allowed-registries': allowedRegistriesFlag('Required, unless --policy names allowedRegistries or --allow-any-registry is given.'),
    'persist-kubeadm-config': Flags.boolean({description: 'Also record the flags and volumes in ConfigMap kube-system/kubeadm-config, so that "kubeadm upgrade" (which regenerates the manifest) keeps the plugin. Needs the kubeconfig.', default: false}),
    'accept-lockout-risk': Flags.boolean({description: 'Deployment placement with --default-allow false: accept that once every backend pod is gone, every pod creation and update is refused until "whitelist disable" runs on each control-plane node.', default: false}),
    'allow-any-registry': Flags.boolean({description: 'Enforce a policy that names no registries: only the tag and digest rules apply, to every registry.', default: false}),
    policy: Flags.string({description: 'Image policy file (YAML); see "audit images --help".'}),
    'default-allow': Flags.boolean({description: 'Admit pods when the backend cannot be reached (the plugin\'s defaultAllow).', default: false, allowNo: true}),
    'allow-ttl': Flags.integer({description: 'Seconds the API server caches an allow (1–1800).', default: 50, min: 1, max: 1800}),
    'deny-ttl': Flags.integer({description: 'Seconds the API server caches a deny (1–1800).', default: 50, min: 1, max: 1800}),
    'retry-backoff': Flags.integer({description: 'Milliseconds between retries to the backend (1–300000).', default: 500, min: 1, max: 300_000}),
    'config-dir': configDirFlag('Where certificates, policy and configuration files go.'),
    'manifests-dir': Flags.string({description: 'The kubelet\'s static pod directory (kube-apiserver.yaml).', default: DEFAULT_MANIFESTS_DIR}),
    'backup-dir': backupDirFlag(),
    port: Flags.integer({description: 'Port of the backend on 127.0.0.1 (static placement).', default: 8443, min: 1, max: 65_535}),
    'backend-placement': Flags.option({description: 'static: a static pod on this node (no deadlock possible); deployment: a Deployment + NodePort Service in --namespace; external: a backend you run (--webhook-url).', options: ['static', 'deployment', 'external'] as const, default: 'static' as const})(),
    namespace: Flags.string({char: 'n', description: 'Deployment placement: namespace of the backend (exempted from the policy).', default: 'imgsec-system'}),
    'node-port': Flags.integer({description: 'Deployment placement: NodePort the API server dials.', default: 30443, min: 30000, max: 32767}),
    'node-address': Flags.string({description: 'Deployment placement: address of this node the API server dials (default: its InternalIP).'}),
    backend: Flags.option({description: 'Deployment placement: imgsec (ours) or bouncer (the seeds\' kube-image-bouncer, pinned by digest with --backend-image; it does NOT enforce the allowlist on /image_policy).', options: ['imgsec', 'bouncer'] as const, default: 'imgsec' as const})(),
    'backend-image': Flags.string({description: `Node.js image for the static pod, pinned by digest (default: ${DEFAULT_BACKEND_IMAGE}, resolved to its current digest).`}),
    'backend-timeout': Flags.string({description: 'How long to wait for the backend to answer.', default: '2m'}),
    'webhook-url': Flags.string({description: 'External placement: the backend URL (https://…/image_policy).'}),
    'webhook-ca': Flags.string({description: 'External placement: CA certificate of the backend.'}),
    force: Flags.boolean({description: 'Go on despite preflight problems.', default: false}),
    wait: Flags.boolean({description: 'Wait for the kubelet to restart kube-apiserver (through the kubeconfig), then smoke-test the whitelist with server-side dry-run pods.', default: false}),
    timeout: Flags.string({description: 'How long --wait waits.', default: '5m'}),
    debug: debugFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(WhitelistEnable)
    if (flags.mode === 'vap') {
      await this.enableVap(flags)
      return
    }
    if (flags['dry-run'] === 'server') throw new UserError('--dry-run=server applies to --mode vap; the webhook mode writes files on this node: use --dry-run=client')
    if (flags.backend === 'bouncer' && (flags['backend-placement'] !== 'deployment' || !flags['backend-image'])) {
      throw new UserError('--backend bouncer needs --backend-placement deployment and --backend-image kainlite/kube-image-bouncer@sha256:… (pinned by digest)')
    }
    if (flags.backend === 'bouncer') {
      process.stderr.write('WARNING: KUBE-IMAGE-BOUNCER DOES NOT ENFORCE THE REGISTRY ALLOWLIST on /image_policy: its --registry-whitelist applies only to its validating-webhook endpoint "/". Through ImagePolicyWebhook it refuses only :latest images. Drop --backend bouncer to have the allowlist enforced.\n')
    }
    if (flags['backend-placement'] === 'external' && (!flags['webhook-url'] || !flags['webhook-ca'])) {
      throw new UserError('--backend-placement external needs --webhook-url https://…/image_policy and --webhook-ca FILE')
    }
    if (flags['webhook-url'] && !/^https:\/\//.test(flags['webhook-url'])) throw new UserError(`--webhook-url ${flags['webhook-url']} must be https:// (the API server only calls webhooks over TLS)`)
    const {parseDuration} = await import('../../lib/duration.js')
    const backendTimeoutMs = parseDuration(flags['backend-timeout'], '--backend-timeout')
    let backendImage = flags['backend-image'] ?? ''
    if (flags['backend-placement'] !== 'external' && !backendImage) backendImage = flags['dry-run'] === 'client' ? `${DEFAULT_BACKEND_IMAGE}@sha256:<resolved at apply time>` : await this.resolveDefaultImage()
    const {enableWhitelist, renderWhitelistDryRun} = await import('../../lib/whitelist/whitelist.js')
    // With --wait: note the mirror pod before the restart.
    let cluster: {client: import('../../lib/cluster/kube-client.js').KubeClient; before?: import('../../lib/controlplane/apiserver-restart.js').MirrorPodState} | undefined
    if (flags.wait && flags['dry-run'] === 'none') {
      const {createKubeClient} = await import('../../lib/cluster/kube-client.js')
      const {readMirrorPod} = await import('../../lib/controlplane/apiserver-restart.js')
      const client = await createKubeClient(flags)
      cluster = {client, before: await client.call({verb: 'list', resource: 'pods', namespace: 'kube-system'}, () => readMirrorPod(client))}
    }
    // The Deployment placement checks the version in its own preflight.
    if (flags['dry-run'] === 'none' && flags['backend-placement'] !== 'deployment') await this.warnAboutVersion(flags, cluster?.client)
    const enableOptions = {
      configDir: flags['config-dir'],
      manifestsDir: flags['manifests-dir'],
      backupDir: flags['backup-dir'],
      placement: flags['backend-placement'],
      port: flags.port,
      namespace: flags.namespace,
      nodePort: flags['node-port'],
      nodeAddress: flags['node-address'],
      backend: flags.backend,
      kube: flags,
      webhookUrl: flags['webhook-url'],
      webhookCa: flags['webhook-ca'],
      policyFile: flags.policy,
      allowedRegistries: flatList(flags['allowed-registries']),
      allowAnyRegistry: flags['allow-any-registry'],
      acceptLockoutRisk: flags['accept-lockout-risk'],
      persistKubeadmConfig: flags['persist-kubeadm-config'],
      settings: {allowTTL: flags['allow-ttl'], denyTTL: flags['deny-ttl'], retryBackoff: flags['retry-backoff'], defaultAllow: flags['default-allow']},
      backendImage,
      backendTimeoutMs,
      force: flags.force,
      command: ['kubectl imgsec whitelist enable', ...this.argv].join(' '),
    }
    if (flags['dry-run'] === 'client') {
      // Impact before change is read-only: the dry run shows it too (the real run checks it after its preflight).
      const {whitelistPolicy} = await import('../../lib/whitelist/whitelist.js')
      const {checkImpact} = await import('../../lib/whitelist/impact.js')
      for (const line of await checkImpact(whitelistPolicy(enableOptions).policy, flags, {force: flags.force})) process.stderr.write(`${line}\n`)
      // Every file and object, as YAML documents, each headed by where it would go.
      for (const file of renderWhitelistDryRun(enableOptions)) process.stdout.write(`---\n# ${file.path}\n${file.content}`)
      return
    }
    const result = await enableWhitelist(enableOptions)
    for (const line of result.impact ?? []) process.stderr.write(`${line}\n`)
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`)
    const applied = result.changes.filter((change) => !change.startsWith('backend check:'))
    if (applied.length === 0) process.stdout.write('registry whitelist already enabled: nothing changed\n')
    else process.stdout.write(`registry whitelist enabled:\n${result.changes.map((c) => `  ${c}\n`).join('')}`)
    for (const backup of result.backups) process.stdout.write(`backup of ${backup.file}: ${backup.backup}\n`)
    process.stdout.write(flags['default-allow']
      ? 'while the backend does not answer: pods are admitted without an image check (defaultAllow: true)\n'
      : 'while the backend does not answer: kube-apiserver refuses every pod creation and update in every namespace, kube-system included (defaultAllow: false); "kubectl imgsec whitelist status" says whether it answers\n')
    if (cluster) await this.waitAndSmokeTest(cluster, parseDuration(flags.timeout, '--timeout'), flatList(flags['allowed-registries']))
    process.stdout.write('undo: kubectl imgsec whitelist disable (or, if the API server is down: kubectl imgsec patch-apiserver --restore)\n')
    process.stdout.write('note: on clusters with several control-plane nodes, run this command on each of them.\n')
    if (!flags['persist-kubeadm-config'] && applied.length > 0) process.stdout.write('note: "kubeadm upgrade" regenerates kube-apiserver.yaml and drops the plugin; run this command again after an upgrade, or use --persist-kubeadm-config.\n')
  }

  /** Best effort when a kubeconfig points at the cluster: the plugin has a known bypass before 1.27.3. */
  private async warnAboutVersion(flags: {kubeconfig?: string; context?: string; as?: string}, connected?: import('../../lib/cluster/kube-client.js').KubeClient): Promise<void> {
    try {
      const {createKubeClient, serverVersion} = await import('../../lib/cluster/kube-client.js')
      const {versionWarning} = await import('../../lib/whitelist/smoke.js')
      let client = connected
      if (!client) {
        const {loadKubeconfig} = await import('../../lib/cluster/kubeconfig.js')
        const config = loadKubeconfig(flags)
        if (!config.server) return
        client = await createKubeClient(flags, config)
      }
      const version = await Promise.race([serverVersion(client), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3000).unref())])
      const warning = version && versionWarning(version.gitVersion)
      if (warning) process.stderr.write(`warning: ${warning}\n`)
    } catch {
      // No cluster reachable from here: the static placement does not need one.
    }
  }

  private async waitAndSmokeTest(cluster: {client: import('../../lib/cluster/kube-client.js').KubeClient; before?: import('../../lib/controlplane/apiserver-restart.js').MirrorPodState}, timeoutMs: number, allowedRegistries?: string[]): Promise<void> {
    const {waitForApiserver} = await import('../../lib/controlplane/apiserver-restart.js')
    const {smokeTestWhitelist} = await import('../../lib/whitelist/smoke.js')
    const {startProgress} = await import('../../cli/spinner.js')
    const progress = await startProgress('waiting for kube-apiserver')
    const ready = await waitForApiserver(cluster.client, cluster.before, {timeoutMs, onProgress: (text) => progress.update(text)}).finally(() => progress.stop())
    if (!ready.ready) throw new UserError(`${ready.detail}; undo with: kubectl imgsec patch-apiserver --restore`)
    process.stdout.write(`${ready.detail}\n`)
    const registry = allowedRegistries?.[0]
    const allowedImage = !registry || registry === 'docker.io' || registry.startsWith('*.') ? 'nginx:1.27' : `${registry}/imgsec-smoke:1.0`
    for (const result of await smokeTestWhitelist(cluster.client, {namespace: 'default', allowedImage})) {
      const ok = result.actual === result.expected
      process.stdout.write(`smoke test: pod with ${result.image}: ${result.actual}${ok ? ' (as expected)' : ` — expected ${result.expected}`}\n`)
      if (!ok) process.stderr.write(`warning: the whitelist does not decide as expected for ${result.image} (${result.detail}); check "kubectl imgsec whitelist status"\n`)
    }
  }

  private async enableVap(flags: {'allowed-registries'?: string[]; 'allow-any-registry': boolean; 'break-glass': boolean; policy?: string; 'params-namespace': string; 'dry-run': 'none' | 'client' | 'server'; output?: 'yaml' | 'json'; kubeconfig?: string; context?: string; as?: string}): Promise<void> {
    const {requireAllowlist, resolvePolicy} = await import('../../lib/policy/policy.js')
    const {enableVap} = await import('../../lib/whitelist/vap-mode.js')
    const {formatObjects} = await import('../../cli/output.js')
    const policy = resolvePolicy({policyFile: flags.policy, allowedRegistries: flatList(flags['allowed-registries'])})
    requireAllowlist(policy, flags['allow-any-registry'])
    const result = await enableVap({kube: flags, policy, paramsNamespace: flags['params-namespace'], dryRun: flags['dry-run'], breakGlass: flags['break-glass']})
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`)
    if (flags.output) {
      process.stdout.write(formatObjects(result.applied.map((a) => JSON.parse(JSON.stringify(a.object))), flags.output))
      return
    }
    const suffix = {none: '', client: ' (dry run)', server: ' (server dry run)'}[flags['dry-run']]
    const {objectName} = await import('../../cli/output.js')
    for (const {object, action} of result.applied) process.stdout.write(`${objectName(JSON.parse(JSON.stringify(object)))} ${action}${suffix}\n`)
  }

  private async resolveDefaultImage(): Promise<string> {
    const {resolveTagDigest} = await import('../../lib/image/registry-client.js')
    try {
      const digest = await resolveTagDigest({registry: 'gcr.io', repository: 'distroless/nodejs20-debian12', tag: 'nonroot'}, {timeoutMs: 15_000})
      return `${DEFAULT_BACKEND_IMAGE}@${digest}`
    } catch (error) {
      throw new UserError(`cannot resolve the digest of ${DEFAULT_BACKEND_IMAGE} (${(error as Error).message}); pass --backend-image IMAGE@sha256:… (a Node.js 20 image)`)
    }
  }
}

import type {Interfaces} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {whitelistEnableFlags} from '../../cli/whitelist-enable-flags.js'
import {flatList, givenFlags, kubeTarget, refuseInapplicable} from '../../cli/flags.js'
import type {ClusterAccess} from '../../lib/cluster/connection.js'
import {parseDuration as parseDurationFlag} from '../../lib/duration.js'
import {UserError} from '../../lib/errors.js'
import type {WhitelistEnableOptions} from '../../lib/whitelist/plan.js'
import type {RestartWatch} from '../../lib/whitelist/smoke.js'

type EnableFlags = Interfaces.InferredFlags<typeof WhitelistEnable.flags>

export default class WhitelistEnable extends BaseCommand {
  static override summary =
    'Enforce a registry allowlist with ImagePolicyWebhook: our own backend as a static pod, its certificates and files, and the API server flags.'

  static override description = `Run it as root on the control-plane node (on each one, when there are several). Order of work: policy check, certificates and files in --config-dir, the backend (a static pod on 127.0.0.1:--port; the kubelet runs it whatever admission says, so no deadlock), a test ImageReview through the exact URL the API server will use, and only then the kube-apiserver manifest (backed up, atomic; see patch-apiserver).

The ImagePolicyWebhook plugin itself exempts nothing: kube-apiserver asks the backend about every pod CREATE and UPDATE (label changes and finalizer removals included) and every ephemeral container, in every namespace. kube-system and the break-glass annotation alpha.image-policy.k8s.io/break-glass: "true" are exempted by our backend, so they only work while it answers. With --default-allow false (the default, as in the Kubernetes docs) a backend that cannot be reached refuses every pod creation and update in every namespace, kube-system included, and break-glass does nothing; deletions go on. With --default-allow true such pods are admitted unchecked, recorded only in the API server's audit log (imagepolicywebhook.image-policy.k8s.io/failed-open). Decisions are cached for --allow-ttl/--deny-ttl seconds.

Impact before change: when the kubeconfig reaches the cluster (on a control-plane node: --kubeconfig /etc/kubernetes/admin.conf), every running pod is reviewed as the API server would review its next update, and the workloads the new policy would refuse are listed per namespace (also with --dry-run=client; read-only). Refused workloads in kube-system stop the change unless --force.

Undo with "kubectl imgsec whitelist disable", or "kubectl imgsec patch-apiserver --restore" when the API server is down.`

  static override examples = [
    {
      description: "The seeds' whitelist, enforced for real",
      command: 'kubectl imgsec whitelist enable --allowed-registries docker.io,registry.k8s.io',
    },
    {
      description: 'No server at all: a ValidatingAdmissionPolicy (Kubernetes 1.30+)',
      command: 'kubectl imgsec whitelist enable --mode vap --allowed-registries docker.io,registry.k8s.io',
    },
    {
      description: 'Print the policy objects for GitOps',
      command:
        'kubectl imgsec whitelist enable --mode vap --allowed-registries docker.io,registry.k8s.io --dry-run=client -o yaml',
    },
    {
      description: 'Only images signed with cosign.key (cosign sign --key), pinned by digest',
      command:
        'kubectl imgsec whitelist enable --allowed-registries registry.example.com --require-signature --trusted-key cosign.pub',
    },
    {
      description: 'The same, for a registry that needs a login to read signatures',
      command:
        'kubectl imgsec whitelist enable --allowed-registries registry.example.com --require-signature --trusted-key cosign.pub --docker-config ~/.docker/config.json',
    },
    {
      description: 'A backend you run yourself',
      command:
        'kubectl imgsec whitelist enable --backend-placement external --webhook-url https://imgsec.example.com/image_policy --webhook-ca ca.crt --policy policy.yaml',
    },
  ]

  static override flags = whitelistEnableFlags

  async run(): Promise<void> {
    const {flags, metadata} = await this.parse(WhitelistEnable)
    const given = givenFlags(flags, metadata)
    const vap = flags.mode === 'vap'
    const placement = flags['backend-placement']
    if (vap && (flags['require-signature'] || flags['trusted-key']))
      throw new UserError(
        '--require-signature cannot work with --mode vap: a ValidatingAdmissionPolicy is CEL, which cannot fetch signatures from a registry nor verify them; use the ImagePolicyWebhook mode (without --mode vap), whose backend verifies them',
      )
    if (flags['require-signature'] !== Boolean(flags['trusted-key']))
      throw new UserError(
        flags['require-signature']
          ? '--require-signature needs --trusted-key FILE (the public key, e.g. cosign.pub; repeatable)'
          : '--trusted-key goes with --require-signature',
      )
    refuseInapplicable(given, [
      {flags: ['params-namespace', 'break-glass', 'output'], appliesTo: 'to --mode vap', when: vap},
      {
        flags: [
          'backend-placement',
          'backend',
          'backend-image',
          'backend-timeout',
          'port',
          'namespace',
          'node-port',
          'node-address',
          'webhook-url',
          'webhook-ca',
          'accept-lockout-risk',
          'default-allow',
          'allow-ttl',
          'deny-ttl',
          'retry-backoff',
          'config-dir',
          'manifests-dir',
          'backup-dir',
          'persist-kubeadm-config',
          'docker-config',
          'docker-config-secret',
          'wait',
          'timeout',
          'force',
        ],
        appliesTo: 'to the ImagePolicyWebhook mode (without --mode vap)',
        when: !vap,
      },
      {flags: ['port'], appliesTo: 'to --backend-placement static', when: placement === 'static'},
      {
        flags: ['namespace', 'node-port', 'node-address', 'accept-lockout-risk'],
        appliesTo: 'to --backend-placement deployment',
        when: placement === 'deployment',
      },
      {
        flags: ['webhook-url', 'webhook-ca'],
        appliesTo: 'to --backend-placement external',
        when: placement === 'external',
      },
      {
        flags: ['backend-image', 'docker-config', 'docker-config-secret'],
        appliesTo:
          'to --backend-placement static or deployment (an external backend runs its own image, with its own registry credentials)',
        when: placement !== 'external',
      },
      {flags: ['timeout'], appliesTo: 'with --wait', when: flags.wait},
    ])
    // Complete: the one client, from the kubeconfig flags only (-n here is the backend's namespace).
    const {connectCluster} = await import('../../lib/cluster/connection.js')
    if (flags.mode === 'vap') {
      await this.enableVap(flags, await connectCluster(kubeTarget(flags)))
      return
    }
    const options = this.validate(flags)
    const waitTimeoutMs = flags.wait ? parseDurationFlag(flags.timeout, '--timeout') : 0
    const cluster = await connectCluster(kubeTarget(flags))
    // Run.
    const {enableWhitelist} = await import('../../lib/whitelist/enable.js')
    const result = await enableWhitelist(options, {
      cluster,
      warnNow: (warning) => process.stderr.write(`warning: ${warning}\n`),
    })
    for (const line of result.impact) process.stderr.write(`${line}\n`)
    if (result.dryRun) {
      // Every file and object, as YAML documents, each headed by where it would go.
      for (const file of result.dryRun) process.stdout.write(`---\n# ${file.path}\n${file.content}`)
      return
    }
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`)
    const applied = result.changes.filter((change) => !change.startsWith('backend check:'))
    if (applied.length === 0) process.stdout.write('registry whitelist already enabled: nothing changed\n')
    else process.stdout.write(`registry whitelist enabled:\n${result.changes.map((c) => `  ${c}\n`).join('')}`)
    for (const backup of result.backups) process.stdout.write(`backup of ${backup.file}: ${backup.backup}\n`)
    process.stdout.write(
      flags['default-allow']
        ? 'while the backend does not answer: pods are admitted without an image check (defaultAllow: true)\n'
        : 'while the backend does not answer: kube-apiserver refuses every pod creation and update in every namespace, kube-system included (defaultAllow: false); "kubectl imgsec whitelist status" says whether it answers\n',
    )
    if (result.restart) await this.waitAndSmokeTest(result.restart, waitTimeoutMs, options.allowedRegistries)
    process.stdout.write(
      'undo: kubectl imgsec whitelist disable (or, if the API server is down: kubectl imgsec patch-apiserver --restore)\n',
    )
    process.stdout.write('note: on clusters with several control-plane nodes, run this command on each of them.\n')
    if (!flags['persist-kubeadm-config'] && applied.length > 0)
      process.stdout.write(
        'note: "kubeadm upgrade" regenerates kube-apiserver.yaml and drops the plugin; run this command again after an upgrade, or use --persist-kubeadm-config.\n',
      )
  }

  /** Validate the flag combinations and build the options (a union keyed on the placement). */
  private validate(flags: EnableFlags): WhitelistEnableOptions {
    if (flags['dry-run'] === 'server')
      throw new UserError(
        '--dry-run=server applies to --mode vap; the webhook mode writes files on this node: use --dry-run=client',
      )
    if (flags.backend === 'bouncer' && (flags['backend-placement'] !== 'deployment' || !flags['backend-image'])) {
      throw new UserError(
        '--backend bouncer needs --backend-placement deployment and --backend-image kainlite/kube-image-bouncer@sha256:… (pinned by digest)',
      )
    }
    if (flags.backend === 'bouncer') {
      process.stderr.write(
        'WARNING: KUBE-IMAGE-BOUNCER DOES NOT ENFORCE THE REGISTRY ALLOWLIST on /image_policy: its --registry-whitelist applies only to its validating-webhook endpoint "/". Through ImagePolicyWebhook it refuses only :latest images. Drop --backend bouncer to have the allowlist enforced.\n',
      )
    }
    const webhookUrl = flags['webhook-url']
    const webhookCa = flags['webhook-ca']
    if (flags['backend-placement'] === 'external' && (!webhookUrl || !webhookCa)) {
      throw new UserError(
        '--backend-placement external needs --webhook-url https://…/image_policy and --webhook-ca FILE',
      )
    }
    if (webhookUrl && !/^https:\/\//.test(webhookUrl))
      throw new UserError(`--webhook-url ${webhookUrl} must be https:// (the API server only calls webhooks over TLS)`)
    const common = {
      configDir: flags['config-dir'],
      manifestsDir: flags['manifests-dir'],
      backupDir: flags['backup-dir'],
      port: flags.port,
      policyFile: flags.policy,
      allowedRegistries: flatList(flags['allowed-registries']),
      allowAnyRegistry: flags['allow-any-registry'],
      trustedKeys: flags['require-signature'] ? flags['trusted-key'] : undefined,
      dockerConfig: flags['docker-config'],
      dockerConfigSecret: flags['docker-config-secret'],
      persistKubeadmConfig: flags['persist-kubeadm-config'],
      settings: {
        allowTTL: flags['allow-ttl'],
        denyTTL: flags['deny-ttl'],
        retryBackoff: flags['retry-backoff'],
        defaultAllow: flags['default-allow'],
      },
      backendTimeoutMs: parseDurationFlag(flags['backend-timeout'], '--backend-timeout'),
      force: flags.force,
      dryRun: flags['dry-run'] === 'client',
      wait: flags.wait,
      command: ['kubectl imgsec whitelist enable', ...this.argv].join(' '),
    }
    switch (flags['backend-placement']) {
      case 'static':
        return {...common, placement: 'static', backendImage: flags['backend-image']}
      case 'deployment':
        return {
          ...common,
          placement: 'deployment',
          backendImage: flags['backend-image'],
          namespace: flags.namespace,
          nodePort: flags['node-port'],
          nodeAddress: flags['node-address'],
          backend: flags.backend,
          acceptLockoutRisk: flags['accept-lockout-risk'],
        }
      case 'external': {
        if (!webhookUrl || !webhookCa)
          throw new UserError(
            '--backend-placement external needs --webhook-url https://…/image_policy and --webhook-ca FILE',
          )
        return {...common, placement: 'external', webhookUrl, webhookCa}
      }
    }
  }

  private async waitAndSmokeTest(
    restart: RestartWatch,
    timeoutMs: number,
    allowedRegistries?: string[],
  ): Promise<void> {
    const {awaitRestartAndSmokeTest} = await import('../../lib/whitelist/smoke.js')
    const {startProgress} = await import('../../cli/spinner.js')
    const progress = await startProgress('waiting for kube-apiserver')
    const results = await awaitRestartAndSmokeTest(restart, {
      timeoutMs,
      allowedRegistries,
      onProgress: (text) => progress.update(text),
      onReady: (detail) => {
        progress.stop()
        process.stdout.write(`${detail}\n`)
      },
    }).finally(() => progress.stop())
    for (const result of results) {
      const ok = result.actual === result.expected
      process.stdout.write(
        `smoke test: pod with ${result.image}: ${result.actual}${ok ? ' (as expected)' : ` — expected ${result.expected}`}\n`,
      )
      if (!ok)
        process.stderr.write(
          `warning: the whitelist does not decide as expected for ${result.image} (${result.detail}); check "kubectl imgsec whitelist status"\n`,
        )
    }
  }

  private async enableVap(flags: EnableFlags, cluster: ClusterAccess): Promise<void> {
    const {enableVap} = await import('../../lib/whitelist/vap-mode.js')
    const {formatObjects, objectName} = await import('../../cli/output.js')
    const result = await enableVap(
      {
        policyFile: flags.policy,
        allowedRegistries: flatList(flags['allowed-registries']),
        allowAnyRegistry: flags['allow-any-registry'],
        paramsNamespace: flags['params-namespace'],
        dryRun: flags['dry-run'],
        breakGlass: flags['break-glass'],
      },
      cluster,
    )
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`)
    if (flags.output) {
      process.stdout.write(
        formatObjects(
          result.applied.map((a) => JSON.parse(JSON.stringify(a.object))),
          flags.output,
        ),
      )
      return
    }
    const suffix = {none: '', client: ' (dry run)', server: ' (server dry run)'}[flags['dry-run']]
    for (const {object, action} of result.applied)
      process.stdout.write(`${objectName(JSON.parse(JSON.stringify(object)))} ${action}${suffix}\n`)
  }
}

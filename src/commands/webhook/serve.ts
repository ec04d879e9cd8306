import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {allowedRegistriesFlag, debugFlag, flatList} from '../../cli/flags.js'
import {parseDuration} from '../../lib/duration.js'

export default class WebhookServe extends BaseCommand {
  static override summary =
    'Run the ImagePolicyWebhook backend: answers ImageReview requests from the API server with the image policy.'

  static override description = `HTTPS on --port: POST /image_policy (and /) takes an ImageReview (imagepolicy.k8s.io/v1alpha1) and answers allowed or not, naming every refused image and why; GET /healthz answers ok. One JSON log line per decision on stdout.

The policy (--policy FILE and/or --allowed-registries) is the same engine "audit images" uses. kube-system is exempt by default. The annotation alpha.image-policy.k8s.io/break-glass: "true" lets a refused pod through (logged) unless the policy sets breakGlass: false.

With requireSignature in the policy, each image of a covered repository must be pinned by digest (a tag-only image is refused: "pin by digest to verify") and carry a cosign signature by one of its keys or keyless identities, verified against the registry (credentials: --docker-config) within --signature-timeout per review; verified digests are cached, refusals are not. An image whose signature cannot be checked in time is refused.

With requireNonRootImage, forbidShell or maxImageAgeDays in the policy, each image's config (and, for forbidShell, its layers) is read from the registry within --image-facts-timeout per review; facts are cached by digest. A tag is judged by the digest it names at review time. The ImageReview carries no securityContext: an image that runs as root is refused even if the pod sets runAsUser. An image that cannot be read in time is refused, unless the policy sets imageFactsFailurePolicy: Ignore.

The policy file is reloaded on SIGHUP or when it changes; a policy that does not validate is logged and the previous one stays in force.`

  static override examples = [
    {
      description: 'What the static pod runs',
      command:
        'kubectl-imgsec webhook serve --cert /etc/kubernetes/imgsec/serving.crt --key /etc/kubernetes/imgsec/serving.key --client-ca /etc/kubernetes/imgsec/ca.crt --policy /etc/kubernetes/imgsec/policy.yaml --address 127.0.0.1 --port 8443',
    },
  ]

  static override flags = {
    cert: Flags.string({description: 'Serving certificate (PEM).', required: true}),
    key: Flags.string({description: 'Serving key (PEM).', required: true}),
    'client-ca': Flags.string({
      description:
        'Require client certificates signed by this CA (the API server presents the one in the webhook kubeconfig).',
    }),
    address: Flags.string({
      description: 'Address to listen on (beyond loopback only with --client-ca, or --allow-unauthenticated).',
      default: '127.0.0.1',
    }),
    'allow-unauthenticated': Flags.boolean({
      description: 'Listen beyond loopback without --client-ca: anyone who reaches the port may ask for decisions.',
      default: false,
      exclusive: ['client-ca'],
    }),
    port: Flags.integer({description: 'Port to listen on.', default: 8443, min: 1, max: 65_535}),
    policy: Flags.string({description: 'Image policy file (YAML), reloaded on change and SIGHUP.'}),
    'allowed-registries': allowedRegistriesFlag("Replaces the policy file's list."),
    'docker-config': Flags.string({
      description:
        'docker config.json with registry credentials, for requireSignature and the image-content rules (requireNonRootImage, forbidShell, maxImageAgeDays).',
    }),
    'signature-timeout': Flags.string({
      description: 'requireSignature: how long the signature checks of one review may take together (e.g. 10s).',
      default: '10s',
    }),
    'image-facts-timeout': Flags.string({
      description:
        'requireNonRootImage, forbidShell, maxImageAgeDays: how long reading the images of one review may take together (e.g. 10s).',
      default: '10s',
    }),
    debug: debugFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(WebhookServe)
    const {startWebhookBackend} = await import('../../lib/webhook/webhook-backend.js')
    const backend = await startWebhookBackend({
      certFile: flags.cert,
      keyFile: flags.key,
      clientCaFile: flags['client-ca'],
      address: flags.address,
      port: flags.port,
      policyFile: flags.policy,
      allowedRegistries: flatList(flags['allowed-registries']),
      allowUnauthenticated: flags['allow-unauthenticated'],
      dockerConfig: flags['docker-config'],
      signatureBudgetMs: parseDuration(flags['signature-timeout'], '--signature-timeout'),
      imageFactsBudgetMs: parseDuration(flags['image-facts-timeout'], '--image-facts-timeout'),
    })
    await backend.closed
    // Stopped and its log flushed: nothing is left to do. Sockets kept alive to registries and the
    // caches' timers must not keep the process (the kubelet would wait out the pod's grace period).
    process.exit(0)
  }
}

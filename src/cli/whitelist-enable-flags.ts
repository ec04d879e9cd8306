// The flags of `whitelist enable`, declared apart from the command: there are many, one per
// choice the ImagePolicyWebhook and ValidatingAdmissionPolicy setups offer.
import {Flags} from '@oclif/core'

import {DEFAULT_MANIFESTS_DIR} from '../lib/controlplane/paths.js'
import {DEFAULT_BACKEND_IMAGE} from '../lib/whitelist/backend-image.js'
import {allowedRegistriesFlag, backupDirFlag, configDirFlag, debugFlag, dryRunFlag, kubeconfigFlags} from './flags.js'

export const whitelistEnableFlags = {
  mode: Flags.option({
    description:
      'webhook: ImagePolicyWebhook with a backend (needs the control-plane node); vap: a ValidatingAdmissionPolicy (Kubernetes ≥ 1.30), no server, applied through the API.',
    options: ['webhook', 'vap'] as const,
    default: 'webhook' as const,
  })(),
  'params-namespace': Flags.string({
    description: '--mode vap: namespace of the ConfigMap holding the allowed registries.',
    default: 'kube-system',
  }),
  'break-glass': Flags.boolean({
    description:
      '--mode vap: honour the annotation alpha.image-policy.k8s.io/break-glass: "true" on a pod or a pod template (off by default: anyone who may create pods could bypass the allowlist with it); the audit log records imgsec-image-policy/break-glass: "true" for each use.',
    default: false,
  }),
  'dry-run': dryRunFlag,
  output: Flags.option({
    char: 'o',
    description: '--mode vap with --dry-run: print the objects.',
    options: ['yaml', 'json'] as const,
  })(),
  ...kubeconfigFlags,
  'allowed-registries': allowedRegistriesFlag(
    'Required, unless --policy names allowedRegistries or --allow-any-registry is given.',
  ),
  'persist-kubeadm-config': Flags.boolean({
    description:
      'Also record the flags and volumes in ConfigMap kube-system/kubeadm-config, so that "kubeadm upgrade" (which regenerates the manifest) keeps the plugin. Needs the kubeconfig.',
    default: false,
  }),
  'accept-lockout-risk': Flags.boolean({
    description:
      'Deployment placement with --default-allow false: accept that once every backend pod is gone, every pod creation and update is refused until "whitelist disable" runs on each control-plane node.',
    default: false,
  }),
  'allow-any-registry': Flags.boolean({
    description: 'Enforce a policy that names no registries: only the tag and digest rules apply, to every registry.',
    default: false,
  }),
  policy: Flags.string({description: 'Image policy file (YAML); see "audit images --help".'}),
  'require-signature': Flags.boolean({
    description:
      'Admit images of the allowed registries only when pinned by digest and signed (cosign) by a --trusted-key. Not with --mode vap: CEL cannot verify signatures.',
    default: false,
  }),
  'trusted-key': Flags.string({
    description:
      'With --require-signature: a trusted public key (PEM, e.g. cosign.pub), given to the backend (static: copied into --config-dir; deployment: a ConfigMap); repeatable.',
    multiple: true,
  }),
  'docker-config': Flags.string({
    description:
      'docker config.json with the registry credentials the backend reads signatures and image contents with (requireSignature, requireNonRootImage, forbidShell, maxImageAgeDays), when those registries need a login (static: copied into --config-dir, 0600; deployment: a Secret). Never printed.',
  }),
  'docker-config-secret': Flags.string({
    description:
      'NAMESPACE/NAME of a docker-registry Secret in the cluster (kubectl create secret docker-registry) to use as --docker-config; read through the kubeconfig.',
  }),
  'default-allow': Flags.boolean({
    description: "Admit pods when the backend cannot be reached (the plugin's defaultAllow).",
    default: false,
    allowNo: true,
  }),
  'allow-ttl': Flags.integer({
    description: 'Seconds the API server caches an allow (1–1800).',
    default: 50,
    min: 1,
    max: 1800,
  }),
  'deny-ttl': Flags.integer({
    description: 'Seconds the API server caches a deny (1–1800).',
    default: 50,
    min: 1,
    max: 1800,
  }),
  'retry-backoff': Flags.integer({
    description: 'Milliseconds between retries to the backend (1–300000).',
    default: 500,
    min: 1,
    max: 300_000,
  }),
  'config-dir': configDirFlag('Where certificates, policy and configuration files go.'),
  'manifests-dir': Flags.string({
    description: "The kubelet's static pod directory (kube-apiserver.yaml).",
    default: DEFAULT_MANIFESTS_DIR,
  }),
  'backup-dir': backupDirFlag(),
  port: Flags.integer({
    description: 'Port of the backend on 127.0.0.1 (static placement).',
    default: 8443,
    min: 1,
    max: 65_535,
  }),
  'backend-placement': Flags.option({
    description:
      'static: a static pod on this node (no deadlock possible); deployment: a Deployment + NodePort Service in --namespace; external: a backend you run (--webhook-url).',
    options: ['static', 'deployment', 'external'] as const,
    default: 'static' as const,
  })(),
  namespace: Flags.string({
    char: 'n',
    description: 'Deployment placement: namespace of the backend (exempted from the policy).',
    default: 'imgsec-system',
  }),
  'node-port': Flags.integer({
    description: 'Deployment placement: NodePort the API server dials.',
    default: 30443,
    min: 30000,
    max: 32767,
  }),
  'node-address': Flags.string({
    description: 'Deployment placement: address of this node the API server dials (default: its InternalIP).',
  }),
  backend: Flags.option({
    description:
      "Deployment placement: imgsec (ours) or bouncer (the seeds' kube-image-bouncer, pinned by digest with --backend-image; it does NOT enforce the allowlist on /image_policy).",
    options: ['imgsec', 'bouncer'] as const,
    default: 'imgsec' as const,
  })(),
  'backend-image': Flags.string({
    description: `Node.js image for the backend (default: ${DEFAULT_BACKEND_IMAGE}, pinned by digest in this release: no network needed). An image given by tag is pinned to the digest its registry gives at enable time.`,
  }),
  'backend-timeout': Flags.string({description: 'How long to wait for the backend to answer.', default: '2m'}),
  'webhook-url': Flags.string({description: 'External placement: the backend URL (https://…/image_policy).'}),
  'webhook-ca': Flags.string({description: 'External placement: CA certificate of the backend.'}),
  force: Flags.boolean({description: 'Go on despite preflight problems.', default: false}),
  wait: Flags.boolean({
    description:
      'Wait for the kubelet to restart kube-apiserver (through the kubeconfig), then smoke-test the whitelist with server-side dry-run pods.',
    default: false,
  }),
  timeout: Flags.string({description: 'How long --wait waits.', default: '5m'}),
  debug: debugFlag,
}

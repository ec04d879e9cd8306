import path from 'node:path'
import {stringify} from 'yaml'

import type {ImagePolicy} from '../policy/policy.js'
import type {TrustedKey} from '../signature/trusted-keys.js'

/** Where `whitelist enable` keeps its files; every path derives from the config dir (a flag). */
export interface WhitelistPaths {
  configDir: string
  pkiDir: string
  caCert: string
  caKey: string
  clientCert: string
  clientKey: string
  admissionConfig: string
  webhookKubeconfig: string
  state: string
  /** Mounted into the backend's static pod (owned by the backend's non-root user). */
  backendDir: string
  servingCert: string
  servingKey: string
  clientCa: string
  policy: string
  bundle: string
}

export const BACKEND_UID = 65532

/** The backend's static pod, in the kubelet's manifests directory. */
export const STATIC_POD_FILE = 'imgsec-webhook.yaml'

export function whitelistPaths(configDir: string): WhitelistPaths {
  const dir = path.resolve(configDir)
  const pki = path.join(dir, 'pki')
  const backend = path.join(dir, 'backend')
  return {
    configDir: dir,
    pkiDir: pki,
    caCert: path.join(pki, 'ca.crt'),
    caKey: path.join(pki, 'ca.key'),
    clientCert: path.join(pki, 'apiserver-client.crt'),
    clientKey: path.join(pki, 'apiserver-client.key'),
    admissionConfig: path.join(dir, 'admission-configuration.yaml'),
    webhookKubeconfig: path.join(dir, 'webhook.kubeconfig'),
    state: path.join(dir, 'state.json'),
    backendDir: backend,
    servingCert: path.join(backend, 'serving.crt'),
    servingKey: path.join(backend, 'serving.key'),
    clientCa: path.join(backend, 'client-ca.crt'),
    policy: path.join(backend, 'policy.yaml'),
    bundle: path.join(backend, 'imgsec-webhook.mjs'),
  }
}

/**
 * What enable writes into the config dir besides state.json, as the paths disable removes: the API
 * server's files, and (unless the backend keeps running) the backend's.
 */
export function enableWrittenPaths(paths: WhitelistPaths, options: {backend: boolean}): string[] {
  return [paths.admissionConfig, paths.webhookKubeconfig, paths.pkiDir, ...(options.backend ? [paths.backendDir] : [])]
}

/** Where the static backend reads a trusted key of requireSignature (the backend directory is mounted). */
export function trustedKeyPath(paths: WhitelistPaths, key: TrustedKey): string {
  return path.join(paths.backendDir, `trusted-key-${key.hint.slice(0, 16)}.pub`)
}

/** The trusted keys of requireSignature, copied beside the policy into the directory the static pod mounts. */
export function trustedKeyFiles(
  policy: ImagePolicy,
  paths: WhitelistPaths,
  owner?: number,
): Array<{path: string; content: string; mode: number; owner?: number}> {
  const files = new Map<string, string>()
  for (const key of (policy.requireSignature ?? []).flatMap((requirement) => requirement.keys))
    files.set(trustedKeyPath(paths, key), String(key.publicKey.export({type: 'spki', format: 'pem'})))
  return [...files].map(([file, content]) => ({path: file, content, mode: 0o600, owner}))
}

/**
 * The policy file the backend reads (every field written out, so that what is enforced is visible).
 * With `paths`, requireSignature names the keys' copies in the backend directory.
 */
export function renderPolicyFile(policy: ImagePolicy, paths?: WhitelistPaths): string {
  return stringify(
    {
      apiVersion: 'imgsec.io/v1alpha1',
      kind: 'ImagePolicy',
      ...(policy.allowedRegistries ? {allowedRegistries: policy.allowedRegistries} : {}),
      denyLatest: policy.denyLatest,
      denyUntagged: policy.denyUntagged,
      requireDigest: policy.requireDigest,
      exemptNamespaces: policy.exemptNamespaces,
      exemptImages: policy.exemptImages,
      privateRegistries: policy.privateRegistries,
      breakGlass: policy.breakGlass,
      allowAnnotationExemptions: policy.allowAnnotationExemptions,
      // The rules on image contents, only when asked for (the backend reads images for them).
      ...(policy.requireNonRootImage ? {requireNonRootImage: true} : {}),
      ...(policy.forbidShell ? {forbidShell: true} : {}),
      ...(policy.maxImageAgeDays !== undefined ? {maxImageAgeDays: policy.maxImageAgeDays} : {}),
      ...(policy.imageFactsFailurePolicy ? {imageFactsFailurePolicy: policy.imageFactsFailurePolicy} : {}),
      ...(policy.exemptions.length > 0 ? {exemptions: policy.exemptions} : {}),
      ...(policy.requireSignature
        ? {
            requireSignature: policy.requireSignature.map((requirement) => ({
              repositories: requirement.repositories,
              keys: requirement.keys.map((key) => (paths ? trustedKeyPath(paths, key) : key.name)),
            })),
          }
        : {}),
    },
    {indentSeq: false},
  )
}

/**
 * The backend as a static pod: the kubelet runs it whatever admission says (no deadlock), on the
 * host network at 127.0.0.1 (no DNS, no NodePort), hardened so that it passes our own audit.
 */
export function renderStaticPod(options: {image: string; paths: WhitelistPaths; port: number}): string {
  const {paths, port} = options
  return stringify(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'imgsec-webhook',
        namespace: 'kube-system',
        labels: {component: 'imgsec-webhook', tier: 'control-plane'},
        annotations: {'imgsec.io/managed-by': 'kubectl-imgsec whitelist enable'},
      },
      spec: {
        hostNetwork: true,
        priorityClassName: 'system-node-critical',
        securityContext: {
          runAsNonRoot: true,
          runAsUser: BACKEND_UID,
          runAsGroup: BACKEND_UID,
          seccompProfile: {type: 'RuntimeDefault'},
        },
        containers: [
          {
            name: 'webhook',
            image: options.image,
            command: [
              '/nodejs/bin/node',
              paths.bundle,
              '--cert',
              paths.servingCert,
              '--key',
              paths.servingKey,
              '--client-ca',
              paths.clientCa,
              '--policy',
              paths.policy,
              '--address',
              '127.0.0.1',
              '--port',
              String(port),
            ],
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: {drop: ['ALL']},
            },
            resources: {requests: {cpu: '50m', memory: '64Mi'}, limits: {cpu: '500m', memory: '256Mi'}},
            livenessProbe: {
              httpGet: {host: '127.0.0.1', path: '/healthz', port, scheme: 'HTTPS'},
              initialDelaySeconds: 5,
              periodSeconds: 10,
              failureThreshold: 6,
            },
            readinessProbe: {httpGet: {host: '127.0.0.1', path: '/healthz', port, scheme: 'HTTPS'}, periodSeconds: 5},
            volumeMounts: [{name: 'imgsec-backend', mountPath: paths.backendDir, readOnly: true}],
          },
        ],
        volumes: [{name: 'imgsec-backend', hostPath: {path: paths.backendDir, type: 'Directory'}}],
      },
    },
    {indentSeq: false},
  )
}

import path from 'node:path'
import {stringify} from 'yaml'

import type {ImagePolicy} from '../policy/policy.js'
import type {TrustedKey} from '../signature/trusted-keys.js'
import type {TrustedRootFile} from '../signature/trusted-root.js'

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
  /** Registry credentials for requireSignature (`--docker-config`), 0600, read by the backend only. */
  dockerConfig: string
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
    dockerConfig: path.join(backend, 'docker-config.json'),
  }
}

/**
 * What enable writes into the config dir besides state.json, as the paths disable removes: the API
 * server's files, and (unless the backend keeps running) the backend's.
 */
export function enableWrittenPaths(paths: WhitelistPaths, options: {backend: boolean}): string[] {
  return [paths.admissionConfig, paths.webhookKubeconfig, paths.pkiDir, ...(options.backend ? [paths.backendDir] : [])]
}

/** Where a backend whose keys are in `dir` reads a trusted key of requireSignature. */
export function trustedKeyPath(dir: string, key: TrustedKey): string {
  return path.posix.join(dir, trustedKeyFileName(key))
}

/** A trusted key's file name: its hint, so that two keys never share a name and a re-run writes the same one. */
export function trustedKeyFileName(key: TrustedKey): string {
  return `trusted-key-${key.hint.slice(0, 16)}.pub`
}

/** A keyless trusted root's file name: its fingerprint, as for keys. */
export function trustedRootFileName(root: TrustedRootFile): string {
  return `trusted-root-${root.fingerprint.slice(0, 16)}.json`
}

/** Where a backend whose keys are in `dir` reads a keyless trusted root of requireSignature. */
export function trustedRootPath(dir: string, root: TrustedRootFile): string {
  return path.posix.join(dir, trustedRootFileName(root))
}

/**
 * The trusted keys (PEM) and keyless trusted roots (JSON) of requireSignature by file name: public
 * material, nothing secret.
 */
export function trustedKeyTexts(policy: ImagePolicy): Map<string, string> {
  const texts = new Map<string, string>()
  for (const requirement of policy.requireSignature ?? []) {
    for (const key of requirement.keys)
      texts.set(trustedKeyFileName(key), String(key.publicKey.export({type: 'spki', format: 'pem'})))
    if (requirement.keyless) texts.set(trustedRootFileName(requirement.keyless.root), requirement.keyless.root.text)
  }
  return texts
}

/**
 * The trusted keys and keyless trusted roots of requireSignature, copied beside the policy into the
 * directory the backend reads them from (the static pod mounts it).
 */
export function trustedKeyFiles(
  policy: ImagePolicy,
  dir: string,
  owner?: number,
): Array<{path: string; content: string; mode: number; owner?: number}> {
  return [...trustedKeyTexts(policy)].map(([name, content]) => ({
    path: path.join(dir, name),
    content,
    mode: 0o600,
    owner,
  }))
}

/**
 * The policy file the backend reads (every field written out, so that what is enforced is visible).
 * With `keyDir`, requireSignature names the copies of its keys and trusted roots there (where the backend reads them; '': beside
 * the policy file, as a name relative to it).
 */
export function renderPolicyFile(policy: ImagePolicy, keyDir?: string): string {
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
              ...(requirement.keys.length > 0
                ? {keys: requirement.keys.map((key) => (keyDir === undefined ? key.name : trustedKeyPath(keyDir, key)))}
                : {}),
              ...(requirement.keyless
                ? {
                    keyless: {
                      trustedRoot:
                        keyDir === undefined
                          ? requirement.keyless.root.name
                          : trustedRootPath(keyDir, requirement.keyless.root),
                      identities: requirement.keyless.identities,
                    },
                  }
                : {}),
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
export function renderStaticPod(options: {
  image: string
  paths: WhitelistPaths
  port: number
  /** The backend reads registry credentials from paths.dockerConfig (in the mounted directory). */
  dockerConfig?: boolean
}): string {
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
              ...(options.dockerConfig ? ['--docker-config', paths.dockerConfig] : []),
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

import {hostname} from 'node:os'
import path from 'node:path'

import {UserError} from '../errors.js'
import {pollUntil} from '../poll.js'
import type {KubeClient} from '../cluster/kube-client.js'
import {DOCKER_CONFIG_JSON_KEY, DOCKER_CONFIG_JSON_TYPE} from '../image/docker-config.js'

export const BACKEND_NAME = 'imgsec-webhook'
const LABELS = {'app.kubernetes.io/name': BACKEND_NAME, 'app.kubernetes.io/managed-by': 'kubectl-imgsec'}

export interface DeploymentBackend {
  namespace: string
  nodePort: number
  image: string
  replicas: number
  policyText: string
  bundleText: string
  tls: {caPem: string; certPem: string; keyPem: string}
  /** `bouncer`: the seeds' kube-image-bouncer instead of our backend (it enforces no allowlist on /image_policy). */
  backend?: 'imgsec' | 'bouncer'
  allowedRegistries?: string[]
  /** requireSignature's trusted keys by file name (PEM), beside policy.yaml in its ConfigMap (the policy names them relative to itself). */
  trustedKeys?: Map<string, string>
  /** The docker config.json of --docker-config, in a Secret the backend reads (requireSignature). */
  dockerConfig?: string
}

/** Where it reads registry credentials (a Secret of type kubernetes.io/dockerconfigjson). */
export const DOCKER_CONFIG_FILE = '/registry/.dockerconfigjson'

/** The container of the seeds' kube-image-bouncer: its flags, its port 1323, no code ConfigMap. */
function bouncerContainer(options: DeploymentBackend): Record<string, any> {
  return {
    name: 'image-bouncer-webhook',
    image: options.image,
    args: [
      '--cert',
      '/tls/tls.crt',
      '--key',
      '/tls/tls.key',
      '--debug',
      ...(options.allowedRegistries ? [`--registry-whitelist=${options.allowedRegistries.join(',')}`] : []),
    ],
    ports: [{name: 'https', containerPort: 1323}],
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: ['ALL']}},
    resources: {requests: {cpu: '50m', memory: '32Mi'}, limits: {cpu: '500m', memory: '128Mi'}},
    readinessProbe: {tcpSocket: {port: 1323}, periodSeconds: 5},
    volumeMounts: [{name: 'tls', mountPath: '/tls', readOnly: true}],
  }
}

/**
 * The seeds' shape, done safely: a Deployment (2 replicas, a PodDisruptionBudget) behind a
 * NodePort Service, TLS in a Secret, policy and the bundled backend in ConfigMaps. The API server
 * (host network) dials the node's InternalIP at the NodePort, which the serving certificate covers.
 */
export function renderDeploymentBackend(options: DeploymentBackend): Array<Record<string, any>> {
  const ns = options.namespace
  const metadata = (name: string) => ({name, namespace: ns, labels: LABELS})
  const objects = renderOwnBackend(options, ns, metadata)
  if (options.backend !== 'bouncer') return objects
  // Same objects, the bouncer's container, no code or policy ConfigMaps (it reads flags only).
  return objects
    .filter((o) => o.kind !== 'ConfigMap')
    .map((o) => {
      if (o.kind === 'Deployment') {
        const spec = o.spec.template.spec
        return {
          ...o,
          spec: {
            ...o.spec,
            template: {
              ...o.spec.template,
              spec: {
                ...spec,
                securityContext: {seccompProfile: {type: 'RuntimeDefault'}},
                containers: [bouncerContainer(options)],
                volumes: spec.volumes.filter((v: {name: string}) => v.name === 'tls'),
              },
            },
          },
        }
      }
      if (o.kind === 'Service') return {...o, spec: {...o.spec, ports: [{...o.spec.ports[0], targetPort: 1323}]}}
      return o
    })
}

function renderOwnBackend(
  options: DeploymentBackend,
  ns: string,
  metadata: (name: string) => Record<string, unknown>,
): Array<Record<string, any>> {
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {name: ns, labels: {...LABELS, 'pod-security.kubernetes.io/enforce': 'restricted'}},
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: metadata(`${BACKEND_NAME}-tls`),
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': Buffer.from(options.tls.certPem).toString('base64'),
        'tls.key': Buffer.from(options.tls.keyPem).toString('base64'),
        'ca.crt': Buffer.from(options.tls.caPem).toString('base64'),
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: metadata(`${BACKEND_NAME}-policy`),
      // The keys beside the policy: one ConfigMap, so that the kubelet swaps them in together.
      data: {'policy.yaml': options.policyText, ...Object.fromEntries(options.trustedKeys ?? [])},
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: metadata(`${BACKEND_NAME}-code`),
      data: {'imgsec-webhook.mjs': options.bundleText},
    },
    ...signatureObjects(options, metadata),
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: metadata(BACKEND_NAME),
      spec: {
        replicas: options.replicas,
        selector: {matchLabels: {'app.kubernetes.io/name': BACKEND_NAME}},
        template: {
          metadata: {labels: LABELS},
          spec: {
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              seccompProfile: {type: 'RuntimeDefault'},
            },
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      topologyKey: 'kubernetes.io/hostname',
                      labelSelector: {matchLabels: {'app.kubernetes.io/name': BACKEND_NAME}},
                    },
                  },
                ],
              },
            },
            containers: [
              {
                name: 'webhook',
                image: options.image,
                command: [
                  '/nodejs/bin/node',
                  '/code/imgsec-webhook.mjs',
                  '--cert',
                  '/tls/tls.crt',
                  '--key',
                  '/tls/tls.key',
                  '--client-ca',
                  '/tls/ca.crt',
                  '--policy',
                  '/policy/policy.yaml',
                  '--address',
                  '0.0.0.0',
                  '--port',
                  '8443',
                  ...(options.dockerConfig === undefined ? [] : ['--docker-config', DOCKER_CONFIG_FILE]),
                ],
                ports: [{name: 'https', containerPort: 8443}],
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: {drop: ['ALL']},
                },
                resources: {requests: {cpu: '50m', memory: '64Mi'}, limits: {cpu: '500m', memory: '256Mi'}},
                livenessProbe: {httpGet: {path: '/healthz', port: 8443, scheme: 'HTTPS'}, periodSeconds: 10},
                readinessProbe: {httpGet: {path: '/healthz', port: 8443, scheme: 'HTTPS'}, periodSeconds: 5},
                volumeMounts: [
                  {name: 'tls', mountPath: '/tls', readOnly: true},
                  {name: 'policy', mountPath: '/policy', readOnly: true},
                  {name: 'code', mountPath: '/code', readOnly: true},
                  ...(options.dockerConfig === undefined
                    ? []
                    : [{name: 'registry', mountPath: path.posix.dirname(DOCKER_CONFIG_FILE), readOnly: true}]),
                ],
              },
            ],
            volumes: [
              {name: 'tls', secret: {secretName: `${BACKEND_NAME}-tls`}},
              {name: 'policy', configMap: {name: `${BACKEND_NAME}-policy`}},
              {name: 'code', configMap: {name: `${BACKEND_NAME}-code`}},
              ...(options.dockerConfig === undefined
                ? []
                : [{name: 'registry', secret: {secretName: `${BACKEND_NAME}-registry`}}]),
            ],
          },
        },
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: metadata(BACKEND_NAME),
      spec: {minAvailable: 1, selector: {matchLabels: {'app.kubernetes.io/name': BACKEND_NAME}}},
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: metadata(BACKEND_NAME),
      spec: {
        type: 'NodePort',
        selector: {'app.kubernetes.io/name': BACKEND_NAME},
        ports: [{name: 'https', port: 443, targetPort: 8443, nodePort: options.nodePort}],
      },
    },
  ]
}

/** The registry credentials for requireSignature (a Secret), when there are any. */
function signatureObjects(
  options: DeploymentBackend,
  metadata: (name: string) => Record<string, unknown>,
): Array<Record<string, any>> {
  if (options.dockerConfig === undefined) return []
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: metadata(`${BACKEND_NAME}-registry`),
      type: DOCKER_CONFIG_JSON_TYPE,
      data: {[DOCKER_CONFIG_JSON_KEY]: Buffer.from(options.dockerConfig).toString('base64')},
    },
  ]
}

/** The InternalIP of this node (by host name), else of the only control-plane node. */
export async function nodeInternalIP(client: KubeClient): Promise<string> {
  const nodes = await client.call({verb: 'list', resource: 'nodes'}, () => client.core.listNode({}))
  const named = nodes.items.find((node) => node.metadata?.name === hostname())
  const controlPlanes = nodes.items.filter(
    (node) => node.metadata?.labels && 'node-role.kubernetes.io/control-plane' in node.metadata.labels,
  )
  const node = named ?? (controlPlanes.length === 1 ? controlPlanes[0] : undefined)
  const address = node?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address
  if (!address)
    throw new UserError(
      'cannot tell which node address the API server should dial: pass --node-address (the InternalIP of this control-plane node)',
    )
  return address
}

/** Wait until the Deployment has a ready replica (the API server can then be pointed at it). */
export async function waitForDeployment(client: KubeClient, namespace: string, timeoutMs: number): Promise<boolean> {
  const ready = await pollUntil(
    async () => {
      const deployment = await client.call({verb: 'get', resource: 'deployments', namespace, name: BACKEND_NAME}, () =>
        client.apps.readNamespacedDeployment({name: BACKEND_NAME, namespace}),
      )
      return (deployment.status?.readyReplicas ?? 0) >= 1 ? true : undefined
    },
    {timeoutMs, intervalMs: 500},
  )
  return ready ?? false
}

// The backend in the cluster: a Deployment behind a NodePort the API server dials on this node's
// address. With defaultAllow false it can lock pod creation out (its replacements are reviewed by
// the dead backend), so it is refused unless the user accepts that risk by name.
import {applyObjects, deleteObjects, permissionOn} from '../../cluster/apply.js'
import {requireClient} from '../../cluster/connection.js'
import {serverVersion} from '../../cluster/version.js'
import {objectName} from '../../cluster/objects.js'
import {type PermissionCheck, requirePermissions} from '../../cluster/rbac-preflight.js'
import {UserError} from '../../errors.js'
import {requirePinnedImage} from '../backend-image.js'
import {DOCKER_CONFIG_JSON_TYPE} from '../../image/docker-config.js'
import {BACKEND_NAME, nodeInternalIP, renderDeploymentBackend, waitForDeployment} from '../deployment.js'
import {trustedKeyTexts} from '../files.js'
import {readBackendBundle} from '../node-files.js'
import {loadOrIssueServing} from '../pki.js'
import {type ApplyMaterial, renderObject, type ResolvedEnableOptions} from '../plan.js'
import {credentialsPlaceholder} from '../registry-credentials.js'
import {versionWarning} from '../smoke.js'
import type {WhitelistState} from '../state.js'
import type {BackendPlacement} from './placement.js'

type DeploymentOptions = Extract<ResolvedEnableOptions, {placement: 'deployment'}>

const PLACEHOLDER = '<generated at apply time>'

/** The kinds of object the placement applies in its namespace (see renderDeploymentBackend). */
const NAMESPACED = [
  {resource: 'secrets'},
  {resource: 'configmaps'},
  {resource: 'services'},
  {resource: 'deployments', group: 'apps'},
  {resource: 'poddisruptionbudgets', group: 'policy'},
]

// applyObjects reads each object, then creates or updates it; a later step that fails deletes
// what this run created (the undo journal), and a re-run deletes what the previous one made and
// this one does not (the credentials Secret without --docker-config): delete is needed on every kind.
const APPLY_VERBS = ['get', 'create', 'update', 'delete']

/** What RBAC must allow, asked before anything is written. */
export function neededPermissions(options: Pick<DeploymentOptions, 'namespace' | 'nodeAddress'>): PermissionCheck[] {
  return [
    ...APPLY_VERBS.map((verb) => ({verb, resource: 'namespaces'})),
    ...NAMESPACED.flatMap((kind) => APPLY_VERBS.map((verb) => ({verb, ...kind, namespace: options.namespace}))),
    ...(options.nodeAddress ? [] : [{verb: 'list', resource: 'nodes'}]),
  ]
}

/** What `whitelist disable` deletes: the objects state.json records, each asked for before anything changes. */
export function undoPermissions(state: Pick<WhitelistState, 'objects'>): PermissionCheck[] {
  const checks = (state.objects ?? []).map((object) => permissionOn('delete', object))
  // Two Secrets are one question.
  return [...new Map(checks.map((check) => [JSON.stringify(check), check])).values()]
}

export const deploymentPlacement: BackendPlacement<DeploymentOptions> = {
  policyNeeds(options) {
    if (!options.settings.defaultAllow && !options.acceptLockoutRisk) {
      throw new UserError(
        'the Deployment placement with defaultAllow false can lock the cluster out: once every backend pod is gone (a drain, an eviction), kube-apiserver refuses every pod creation and update in every namespace, the backend\'s own replacements included, and only "whitelist disable" or "patch-apiserver --restore" on each control-plane node brings pod creation back. Use the static placement (the default), or --default-allow, or pass --accept-lockout-risk',
      )
    }
    return {exemptNamespaces: [options.namespace], controlPlaneImages: []}
  },

  // Beside policy.yaml in its ConfigMap: the policy names them relative to itself.
  keyDir: () => '',

  check(options, dryRun) {
    if (!dryRun) requirePinnedImage(options.backendImage)
  },

  async preflight(options, context) {
    let address = options.nodeAddress ?? 'NODE_INTERNAL_IP'
    if (!context.dryRun) {
      const client = requireClient(context.cluster)
      // In the cluster, before anything is written: permissions, then the server version.
      await requirePermissions(
        client,
        neededPermissions(options),
        'the Deployment placement needs these',
        'Ask for them, use --as, or use the static placement',
      )
      const versionProblem = versionWarning((await serverVersion(client)).gitVersion)
      if (versionProblem) context.warnings.push(versionProblem)
      address = options.nodeAddress ?? (await nodeInternalIP(client))
      context.warnings.push(
        options.settings.defaultAllow
          ? `the backend runs in the cluster (namespace ${options.namespace}): while all its pods are gone, every pod is admitted unchecked (defaultAllow: true); the static placement (the default) has no such gap`
          : `the backend runs in the cluster (namespace ${options.namespace}): if all its pods are gone, every pod creation and update in every namespace is refused (defaultAllow: false), its own replacement pods included, so it cannot come back by itself; recovery is "whitelist disable" or "patch-apiserver --restore" on each control-plane node. The static placement (the default) has no such risk`,
      )
    }
    return {
      webhookUrl: `https://${address.includes(':') ? `[${address}]` : address}:${options.nodePort}/image_policy`,
      servingHosts: [
        address,
        `${BACKEND_NAME}.${options.namespace}.svc`,
        `${BACKEND_NAME}.${options.namespace}.svc.cluster.local`,
        '127.0.0.1',
      ],
    }
  },

  plan(options, {policy, policyText, registryCredentials}) {
    if (policy.requireSignature && options.backend === 'bouncer')
      throw new UserError(
        "--backend bouncer cannot verify signatures (kube-image-bouncer has no requireSignature): drop --backend bouncer, or --require-signature and the policy's requireSignature",
      )
    const trustedKeys = policy.requireSignature ? trustedKeyTexts(policy) : undefined
    const render = (material: ApplyMaterial) =>
      renderDeploymentBackend({
        namespace: options.namespace,
        nodePort: options.nodePort,
        image: options.backendImage,
        replicas: 2,
        policyText,
        bundleText: material.bundleText,
        tls: {caPem: material.ca.certPem, certPem: material.serving.certPem, keyPem: material.serving.keyPem},
        backend: options.backend,
        allowedRegistries: policy.allowedRegistries,
        trustedKeys,
        dockerConfig: registryCredentials ? material.dockerConfig : undefined,
      })
    const placeholder = {certPem: PLACEHOLDER, keyPem: PLACEHOLDER}
    const preview = render({
      ca: placeholder,
      serving: placeholder,
      bundleText: '<the bundled backend, dist/imgsec-webhook.mjs>',
      dockerConfig: registryCredentials && credentialsPlaceholder(registryCredentials),
    })
      .map((object) =>
        object.kind === 'Secret'
          ? {
              ...object,
              data: Object.fromEntries(
                Object.entries(object.data as Record<string, string>).map(([key, value]) => [
                  key,
                  // The credentials' placeholder says where they come from; keys and certificates are made later.
                  object.type === DOCKER_CONFIG_JSON_TYPE ? Buffer.from(value, 'base64').toString('utf8') : PLACEHOLDER,
                ]),
              ),
            }
          : object,
      )
      .map((object) => renderObject(object))
    return {
      preview,
      files: [],
      objects: {namespace: options.namespace, render},
      reportsPolicyDigest: true,
      notAnsweringHint: '',
    }
  },

  async apply(plan, target, context) {
    if (!plan.objects) return {}
    const {namespace} = plan.objects
    const client = requireClient(context.cluster)
    const material: ApplyMaterial = {
      ca: context.pki.ca,
      serving: await loadOrIssueServing(context.paths, context.pki, target.servingHosts),
      bundleText: readBackendBundle(),
      dockerConfig: context.dockerConfig,
    }
    let objects = plan.objects.render(material)
    const applied = await applyObjects(client, objects, 'none')
    for (const result of applied) {
      if (result.action !== 'unchanged') context.changes.push(`${objectName(result.object)} ${result.action}`)
      if (result.action === 'created')
        context.journal.add(`delete ${objectName(result.object)}`, () => deleteObjects(client, [result.object]))
    }
    // A namespace that was there before is the user's: disable must not delete it.
    const namespaceCreated =
      applied[0].action === 'created' || (context.previous?.objects ?? []).some((o) => o.kind === 'Namespace')
    if (!namespaceCreated) objects = objects.slice(1)
    const timeoutMs = context.options.backendTimeoutMs
    if (!(await waitForDeployment(client, namespace, timeoutMs))) {
      throw new UserError(
        `deployment ${BACKEND_NAME} in namespace ${namespace} has no ready replica after ${Math.round(timeoutMs / 1000)}s, so the API server was NOT changed; see kubectl -n ${namespace} describe deployment ${BACKEND_NAME}`,
      )
    }
    // What a previous run made and this one does not (the keys, the credentials): the backend no longer reads it.
    const key = (o: Record<string, any>) => `${o.metadata.namespace}/${objectName(o)}`
    const kept = new Set(objects.map((o) => key(o)))
    const dropped = (context.previous?.objects ?? []).filter(
      (o) => o.kind !== 'Namespace' && o.metadata.name.startsWith(BACKEND_NAME) && !kept.has(key(o)),
    )
    for (const object of await deleteObjects(client, dropped)) context.changes.push(`deleted ${objectName(object)}`)
    const credentials = objects.find((o) => o.kind === 'Secret' && o.type === DOCKER_CONFIG_JSON_TYPE)
    return {objects, registryCredentials: credentials && `secret ${namespace}/${credentials.metadata.name}`}
  },

  async preflightUndo(state, cluster) {
    if (!state.objects?.length) return
    await requirePermissions(
      requireClient(cluster),
      undoPermissions(state),
      '"whitelist disable" deletes the backend\'s objects',
      'Ask for them, use --as, or pass --keep-backend to leave the backend running',
    )
  },

  async undo(state, context) {
    if (!state.objects) return
    const client = requireClient(context.cluster)
    // The namespace goes last, and only if we created it (it is in the list then).
    for (const object of await deleteObjects(client, [...state.objects].reverse()))
      context.changes.push(`deleted ${objectName(object)}`)
  },
}

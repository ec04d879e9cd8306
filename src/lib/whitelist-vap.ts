import type {DryRun} from './flags.js'
import {UserError} from './errors.js'
import {apiStatusOf, createKubeClient, type KubeClient} from './kube-client.js'
import type {KubeTargetOptions} from './kubeconfig.js'
import type {KubeObject} from './output.js'
import type {ImagePolicy} from './policy.js'
import {PARAMS_NAME, renderVapObjects, VAP_NAME} from './vap.js'

/** ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1) from Kubernetes 1.30. */
export const VAP_MIN_MINOR = 30

export async function serverVersion(client: KubeClient): Promise<{gitVersion: string; major: number; minor: number}> {
  const {VersionApi} = await import('@kubernetes/client-node')
  const info = await client.call({verb: 'get', resource: 'version'}, () => client.kubeConfig.makeApiClient(VersionApi).getCode())
  return {gitVersion: info.gitVersion, major: Number.parseInt(info.major, 10), minor: Number.parseInt(info.minor, 10)}
}

type Applied = {object: KubeObject; action: 'created' | 'configured' | 'unchanged'}

/** Create or update one object (policy, binding or ConfigMap); unchanged when the spec/data are already so. */
async function applyObject(client: KubeClient, object: Record<string, any>, dryRun: DryRun): Promise<Applied> {
  const {AdmissionregistrationV1Api} = await import('@kubernetes/client-node')
  const admission = client.kubeConfig.makeApiClient(AdmissionregistrationV1Api)
  const name = object.metadata.name as string
  const dry = dryRun === 'server' ? 'All' : undefined
  const kinds: Record<string, {resource: string; namespace?: string; read: () => Promise<any>; create: () => Promise<any>; replace: (body: any) => Promise<any>; field: 'spec' | 'data'}> = {
    ValidatingAdmissionPolicy: {resource: 'validatingadmissionpolicies', field: 'spec', read: () => admission.readValidatingAdmissionPolicy({name}), create: () => admission.createValidatingAdmissionPolicy({body: object, dryRun: dry}), replace: (body) => admission.replaceValidatingAdmissionPolicy({name, body, dryRun: dry})},
    ValidatingAdmissionPolicyBinding: {resource: 'validatingadmissionpolicybindings', field: 'spec', read: () => admission.readValidatingAdmissionPolicyBinding({name}), create: () => admission.createValidatingAdmissionPolicyBinding({body: object, dryRun: dry}), replace: (body) => admission.replaceValidatingAdmissionPolicyBinding({name, body, dryRun: dry})},
    ConfigMap: {resource: 'configmaps', namespace: object.metadata.namespace, field: 'data', read: () => client.core.readNamespacedConfigMap({name, namespace: object.metadata.namespace}), create: () => client.core.createNamespacedConfigMap({namespace: object.metadata.namespace, body: object, dryRun: dry}), replace: (body) => client.core.replaceNamespacedConfigMap({name, namespace: object.metadata.namespace, body, dryRun: dry})},
  }
  const kind = kinds[object.kind]
  const where = {resource: kind.resource, namespace: kind.namespace, name}
  let existing: any
  try {
    existing = await kind.read()
  } catch (error) {
    if (apiStatusOf(error)?.code !== 404) return client.call({verb: 'get', ...where}, () => Promise.reject(error))
  }
  if (!existing) return {object: await client.call({verb: 'create', ...where}, kind.create), action: 'created'}
  // Compare through JSON: client-node returns typed objects; what matters is the content.
  const same = JSON.stringify(sortKeys(toPlain(existing)[kind.field] ?? {})) === JSON.stringify(sortKeys(object[kind.field] ?? {}))
  if (same) return {object: existing, action: 'unchanged'}
  const body = {...object, metadata: {...object.metadata, resourceVersion: existing.metadata?.resourceVersion}}
  return {object: await client.call({verb: 'update', ...where}, () => kind.replace(body)), action: 'configured'}
}

function toPlain(value: unknown): any {
  return JSON.parse(JSON.stringify(value))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sortKeys(v)]))
  return value
}

/**
 * `whitelist enable --mode vap`: apply the policy, its binding and the params ConfigMap; no backend,
 * no manifest edit. Refuses servers without ValidatingAdmissionPolicy v1 (Kubernetes < 1.30).
 */
export async function enableVap(options: {kube: KubeTargetOptions; policy: ImagePolicy; paramsNamespace: string; dryRun: DryRun}): Promise<{applied: Applied[]; warnings: string[]}> {
  const objects = renderVapObjects(options.policy, {paramsNamespace: options.paramsNamespace}) as Array<Record<string, any>>
  if (options.dryRun === 'client') return {applied: objects.map((object) => ({object, action: 'created'})), warnings: []}
  const client = await createKubeClient(options.kube)
  const version = await serverVersion(client)
  if (version.major === 1 && version.minor < VAP_MIN_MINOR) {
    throw new UserError(`--mode vap needs Kubernetes 1.${VAP_MIN_MINOR} or newer (ValidatingAdmissionPolicy v1); this cluster is ${version.gitVersion}: use the ImagePolicyWebhook mode (without --mode vap)`)
  }
  const applied: Applied[] = []
  for (const object of objects) applied.push(await applyObject(client, object, options.dryRun))
  const warnings: string[] = []
  if (options.dryRun === 'none') {
    const policy = applied[objects.findIndex((object) => object.kind === 'ValidatingAdmissionPolicy')]
    const typeChecking = (toPlain(policy?.object ?? {}) as {status?: {typeChecking?: {expressionWarnings?: Array<{fieldRef: string; warning: string}>}}}).status?.typeChecking
    if (!typeChecking) warnings.push('the API server has not reported type checking of the policy yet; check later with: kubectl get validatingadmissionpolicy imgsec-image-policy -o jsonpath={.status.typeChecking}')
    for (const warning of typeChecking?.expressionWarnings ?? []) warnings.push(`type checking: ${warning.fieldRef}: ${warning.warning}`)
  }
  return {applied, warnings}
}

/** `whitelist disable --mode vap`: delete the binding, the policy and the params ConfigMap. */
export async function disableVap(options: {kube: KubeTargetOptions; paramsNamespace: string}): Promise<string[]> {
  const client = await createKubeClient(options.kube)
  const {AdmissionregistrationV1Api} = await import('@kubernetes/client-node')
  const admission = client.kubeConfig.makeApiClient(AdmissionregistrationV1Api)
  const removed: string[] = []
  const steps: Array<[string, {resource: string; namespace?: string}, () => Promise<unknown>]> = [
    [`validatingadmissionpolicybinding.admissionregistration.k8s.io/${VAP_NAME}`, {resource: 'validatingadmissionpolicybindings'}, () => admission.deleteValidatingAdmissionPolicyBinding({name: VAP_NAME})],
    [`validatingadmissionpolicy.admissionregistration.k8s.io/${VAP_NAME}`, {resource: 'validatingadmissionpolicies'}, () => admission.deleteValidatingAdmissionPolicy({name: VAP_NAME})],
    [`configmap/${PARAMS_NAME} (namespace ${options.paramsNamespace})`, {resource: 'configmaps', namespace: options.paramsNamespace}, () => client.core.deleteNamespacedConfigMap({name: PARAMS_NAME, namespace: options.paramsNamespace})],
  ]
  for (const [label, where, remove] of steps) {
    try {
      await remove()
      removed.push(`deleted ${label}`)
    } catch (error) {
      if (apiStatusOf(error)?.code !== 404) await client.call({verb: 'delete', ...where}, () => Promise.reject(error))
    }
  }
  return removed
}

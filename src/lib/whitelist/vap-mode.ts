import {type AppliedObject, applyObjects, deleteObjects, permissionOn} from '../cluster/apply.js'
import type {DryRun} from '../cluster/objects.js'
import {UserError} from '../errors.js'
import {type ClusterAccess, requireClient} from '../cluster/connection.js'
import type {ApiReader} from '../cluster/api-reader.js'
import {getRawJson} from '../cluster/kube-client.js'
import {serverVersion, versionBefore} from '../cluster/version.js'
import {objectName} from '../cluster/objects.js'
import {requirePermissions} from '../cluster/rbac-preflight.js'
import {DEFAULT_POLICY} from '../policy/policy.js'
import {refuseImageContentRules, requireAllowlist, resolvePolicy} from '../policy/policy-file.js'
import {checkImpact} from './impact.js'
import {editedAllowlist, type RegistryEdit, type RegistryEditContext} from './registries.js'
import type {PodCreationVerdict} from './status.js'
import {PARAMS_NAME, renderVapObjects, VAP_NAME} from '../policy/vap.js'
import {splitCommaList} from '../comma-list.js'

/** ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1) from Kubernetes 1.30. */
export const VAP_MIN_MINOR = 30

type Applied = AppliedObject

/**
 * `whitelist enable --mode vap`: apply the policy, its binding and the params ConfigMap; no backend,
 * no manifest edit. Refuses servers without ValidatingAdmissionPolicy v1 (Kubernetes < 1.30).
 */
export async function enableVap(
  options: {
    policyFile?: string
    allowedRegistries?: string[]
    allowAnyRegistry: boolean
    paramsNamespace: string
    dryRun: DryRun
    breakGlass?: boolean
  },
  cluster: ClusterAccess,
): Promise<{applied: Applied[]; warnings: string[]}> {
  const policy = resolvePolicy({policyFile: options.policyFile, allowedRegistries: options.allowedRegistries})
  requireAllowlist(policy, options.allowAnyRegistry)
  refuseImageContentRules(policy, `--policy "${options.policyFile}"`)
  // The CEL renders the registry, tag and digest rules and the namespace exemptions; image
  // exemptions would be silently ignored, so they are refused rather than half-enforced.
  if (policy.exemptImages.length > 0) {
    throw new UserError(
      `the policy's exemptImages (${policy.exemptImages.slice(0, 3).join(', ')}${policy.exemptImages.length > 3 ? ', …' : ''}) are not enforced by --mode vap: remove them (exempt namespaces instead with exemptNamespaces), or use the ImagePolicyWebhook mode, whose backend honours them`,
    )
  }
  if (policy.requireSignature)
    throw new UserError(
      `the policy's requireSignature cannot be enforced by --mode vap: a ValidatingAdmissionPolicy is CEL, which cannot fetch signatures from a registry nor verify them; use the ImagePolicyWebhook mode (without --mode vap), whose backend verifies them`,
    )
  const objects = renderVapObjects(policy, {
    paramsNamespace: options.paramsNamespace,
    breakGlass: options.breakGlass,
  }) as Array<Record<string, any>>
  if (options.dryRun === 'client')
    return {applied: objects.map((object) => ({object, action: 'created'})), warnings: []}
  const client = requireClient(cluster)
  const version = await serverVersion(client)
  if (versionBefore(version, 1, VAP_MIN_MINOR)) {
    throw new UserError(
      `--mode vap needs Kubernetes 1.${VAP_MIN_MINOR} or newer (ValidatingAdmissionPolicy v1); this cluster is ${version.gitVersion}: use the ImagePolicyWebhook mode (without --mode vap)`,
    )
  }
  // Ask first, so that a missing permission cannot leave the ConfigMap applied without its policy.
  await requirePermissions(
    client,
    objects.flatMap((object) => ['get', 'create', 'update'].map((verb) => permissionOn(verb, object))),
    '--mode vap needs these',
  )
  const applied = await applyObjects(client, objects, options.dryRun)
  const warnings: string[] = []
  if (options.dryRun === 'none') {
    const policy = applied[objects.findIndex((object) => object.kind === 'ValidatingAdmissionPolicy')]
    const typeChecking = (
      policy?.object ??
      ({} as {status?: {typeChecking?: {expressionWarnings?: Array<{fieldRef: string; warning: string}>}}})
    ).status?.typeChecking
    if (!typeChecking)
      warnings.push(
        'the API server has not reported type checking of the policy yet; check later with: kubectl get validatingadmissionpolicy imgsec-image-policy -o jsonpath={.status.typeChecking}',
      )
    for (const warning of typeChecking?.expressionWarnings ?? [])
      warnings.push(`type checking: ${warning.fieldRef}: ${warning.warning}`)
  }
  return {applied, warnings}
}

/** `whitelist disable --mode vap`: delete the binding, the policy and the params ConfigMap. */
export async function disableVap(options: {paramsNamespace: string}, cluster: ClusterAccess): Promise<string[]> {
  const client = requireClient(cluster)
  const deleted = await deleteObjects(client, [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: {name: VAP_NAME},
    },
    {apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: {name: VAP_NAME}},
    {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: PARAMS_NAME, namespace: options.paramsNamespace}},
  ])
  return deleted.map(
    (object) =>
      `deleted ${objectName(object)}${object.metadata.namespace ? ` (namespace ${object.metadata.namespace})` : ''}`,
  )
}

const VAP_PATH = `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${VAP_NAME}`
const BINDING_PATH = `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/${VAP_NAME}`
const paramsPath = (namespace: string) =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${PARAMS_NAME}`

async function getOrUndefined(
  client: ApiReader,
  path: string,
  call: {resource: string; namespace?: string; name: string},
): Promise<Record<string, any> | undefined> {
  try {
    return await getRawJson(client, path, {})
  } catch (error) {
    if ((error as {code?: unknown}).code === 404) return undefined
    return client.call({verb: 'get', ...call}, () => Promise.reject(error))
  }
}

export interface VapStatus {
  podCreation: PodCreationVerdict
  policy: boolean
  binding: boolean
  allowedRegistries?: string[]
  typeCheckingWarnings: string[]
}

/**
 * `whitelist status --mode vap`. The binding refers to the params ConfigMap with
 * parameterNotFoundAction Deny: without it, every pod the policy matches is refused.
 */
export async function vapStatus(options: {paramsNamespace: string}, client: ApiReader): Promise<VapStatus> {
  const [policy, binding, params] = await Promise.all([
    getOrUndefined(client, VAP_PATH, {resource: 'validatingadmissionpolicies', name: VAP_NAME}),
    getOrUndefined(client, BINDING_PATH, {resource: 'validatingadmissionpolicybindings', name: VAP_NAME}),
    getOrUndefined(client, paramsPath(options.paramsNamespace), {
      resource: 'configmaps',
      namespace: options.paramsNamespace,
      name: PARAMS_NAME,
    }),
  ])
  const allowedRegistries =
    typeof params?.data?.allowedRegistries === 'string' ? splitCommaList(params.data.allowedRegistries) : undefined
  const typeCheckingWarnings = (
    (policy?.status?.typeChecking?.expressionWarnings ?? []) as Array<{fieldRef: string; warning: string}>
  ).map((w) => `${w.fieldRef}: ${w.warning}`)
  let podCreation: PodCreationVerdict
  if (!policy || !binding)
    podCreation = {
      state: 'not-gated',
      detail: `not gated: ${!policy ? `no ValidatingAdmissionPolicy ${VAP_NAME}` : `no binding ${VAP_NAME}: the policy does not apply`}`,
    }
  else if (policy.spec?.paramKind && !params)
    podCreation = {
      state: 'blocked',
      detail: `BLOCKED: the params ConfigMap ${options.paramsNamespace}/${PARAMS_NAME} is missing and the binding says parameterNotFoundAction: Deny: every pod and workload the policy matches is refused; run "kubectl imgsec whitelist enable --mode vap" again or "whitelist disable --mode vap"`,
    }
  else
    podCreation = {
      state: 'checked',
      detail: `checked: ValidatingAdmissionPolicy ${VAP_NAME} refuses images outside the allowlist`,
    }
  return {podCreation, policy: Boolean(policy), binding: Boolean(binding), allowedRegistries, typeCheckingWarnings}
}

/** `add-registry` / `remove-registry --mode vap`: edit the params ConfigMap the policy reads, after the impact report. */
export async function editVapRegistries(
  options: RegistryEdit & {paramsNamespace: string; force: boolean},
  context: RegistryEditContext,
): Promise<{changed: boolean; allowedRegistries: string[]}> {
  const client = requireClient(context.cluster)
  const target = {resource: 'configmaps', namespace: options.paramsNamespace, name: PARAMS_NAME}
  const params = await getOrUndefined(client, paramsPath(options.paramsNamespace), target)
  if (!params)
    throw new UserError(
      `no ConfigMap ${options.paramsNamespace}/${PARAMS_NAME}: enable the whitelist with "whitelist enable --mode vap --allowed-registries …" first`,
    )
  const before = splitCommaList(String(params.data?.allowedRegistries ?? ''))
  const edit = editedAllowlist(before, options)
  if (!edit.changed) return {changed: false, allowedRegistries: before}
  for (const line of await checkImpact({...DEFAULT_POLICY, allowedRegistries: edit.after}, context.cluster, {
    force: options.force,
  }))
    context.report(line)
  await client.call({verb: 'update', ...target}, () =>
    client.core.replaceNamespacedConfigMap({
      name: PARAMS_NAME,
      namespace: options.paramsNamespace,
      body: {...params, data: {...params.data, allowedRegistries: edit.after.join(',')}},
    }),
  )
  return {changed: true, allowedRegistries: edit.after}
}

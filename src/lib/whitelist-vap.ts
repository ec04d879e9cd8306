import {type AppliedObject, applyObjects, deleteObjects} from './apply.js'
import type {DryRun} from './flags.js'
import {UserError} from './errors.js'
import {createKubeClient, serverVersion} from './kube-client.js'
import type {KubeTargetOptions} from './kubeconfig.js'
import {objectName} from './output.js'
import {missingPermissions} from './rbac-preflight.js'
import type {ImagePolicy} from './policy.js'
import {PARAMS_NAME, renderVapObjects, VAP_NAME} from './vap.js'

/** ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1) from Kubernetes 1.30. */
export const VAP_MIN_MINOR = 30

type Applied = AppliedObject

/**
 * `whitelist enable --mode vap`: apply the policy, its binding and the params ConfigMap; no backend,
 * no manifest edit. Refuses servers without ValidatingAdmissionPolicy v1 (Kubernetes < 1.30).
 */
export async function enableVap(options: {kube: KubeTargetOptions; policy: ImagePolicy; paramsNamespace: string; dryRun: DryRun; breakGlass?: boolean}): Promise<{applied: Applied[]; warnings: string[]}> {
  const objects = renderVapObjects(options.policy, {paramsNamespace: options.paramsNamespace, breakGlass: options.breakGlass}) as Array<Record<string, any>>
  if (options.dryRun === 'client') return {applied: objects.map((object) => ({object, action: 'created'})), warnings: []}
  const client = await createKubeClient(options.kube)
  const version = await serverVersion(client)
  if (version.major === 1 && version.minor < VAP_MIN_MINOR) {
    throw new UserError(`--mode vap needs Kubernetes 1.${VAP_MIN_MINOR} or newer (ValidatingAdmissionPolicy v1); this cluster is ${version.gitVersion}: use the ImagePolicyWebhook mode (without --mode vap)`)
  }
  // Ask first, so that a missing permission cannot leave the ConfigMap applied without its policy.
  const missing = await missingPermissions(client, objects.flatMap((object) => ['get', 'create', 'update'].map((verb) => ({
    verb,
    resource: object.kind === 'ConfigMap' ? 'configmaps' : object.kind === 'ValidatingAdmissionPolicy' ? 'validatingadmissionpolicies' : 'validatingadmissionpolicybindings',
    group: object.kind === 'ConfigMap' ? '' : 'admissionregistration.k8s.io',
    namespace: object.metadata.namespace,
  }))))
  if (missing && missing.length > 0) throw new UserError(`RBAC does not allow you to ${missing.join(', ')}; --mode vap needs these (nothing was changed)`)
  const applied = await applyObjects(client, objects, options.dryRun)
  const warnings: string[] = []
  if (options.dryRun === 'none') {
    const policy = applied[objects.findIndex((object) => object.kind === 'ValidatingAdmissionPolicy')]
    const typeChecking = (policy?.object ?? {} as {status?: {typeChecking?: {expressionWarnings?: Array<{fieldRef: string; warning: string}>}}}).status?.typeChecking
    if (!typeChecking) warnings.push('the API server has not reported type checking of the policy yet; check later with: kubectl get validatingadmissionpolicy imgsec-image-policy -o jsonpath={.status.typeChecking}')
    for (const warning of typeChecking?.expressionWarnings ?? []) warnings.push(`type checking: ${warning.fieldRef}: ${warning.warning}`)
  }
  return {applied, warnings}
}

/** `whitelist disable --mode vap`: delete the binding, the policy and the params ConfigMap. */
export async function disableVap(options: {kube: KubeTargetOptions; paramsNamespace: string}): Promise<string[]> {
  const client = await createKubeClient(options.kube)
  const deleted = await deleteObjects(client, [
    {apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: {name: VAP_NAME}},
    {apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: {name: VAP_NAME}},
    {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: PARAMS_NAME, namespace: options.paramsNamespace}},
  ])
  return deleted.map((object) => `deleted ${objectName(object)}${object.metadata.namespace ? ` (namespace ${object.metadata.namespace})` : ''}`)
}

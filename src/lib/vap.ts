import type {ImagePolicy} from './policy.js'

/**
 * `whitelist enable --mode vap`: the same image rules as a ValidatingAdmissionPolicy (GA in
 * Kubernetes 1.30), so no backend, no manifest edit and no deadlock. The CEL mirrors the policy
 * engine: the reference grammar, Docker Hub normalisation, the allowlist patterns, the tag rules.
 */

export const VAP_NAME = 'imgsec-image-policy'
export const PARAMS_NAME = 'imgsec-allowed-registries'

// distribution/reference's grammar, anchored (RE2, as CEL's matches() uses).
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*'
export const REFERENCE_REGEX = `^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`

/** CEL snippets over one image string `i`. */
const cel = {
  name: (i: string) => `${i}.split('@')[0]`,
  last: (i: string) => `${cel.name(i)}.split('/')[${cel.name(i)}.split('/').size() - 1]`,
  hasTag: (i: string) => `${cel.last(i)}.contains(':')`,
  tag: (i: string) => `${cel.last(i)}.split(':')[1]`,
  hasDigest: (i: string) => `${i}.contains('@')`,
  first: (i: string) => `${cel.name(i)}.split('/')[0]`,
  isHost: (i: string) => `(${cel.name(i)}.contains('/') && (${cel.first(i)}.contains('.') || ${cel.first(i)}.contains(':') || ${cel.first(i)} == 'localhost' || ${cel.first(i)}.lowerAscii() != ${cel.first(i)}))`,
  registry: (i: string) => `(${cel.isHost(i)} ? (${cel.first(i)}.lowerAscii() in ['index.docker.io', 'registry-1.docker.io'] ? 'docker.io' : ${cel.first(i)}.lowerAscii()) : 'docker.io')`,
  /** Repository without registry and tag, with Docker Hub's library/ prefix. */
  repository: (i: string) => {
    const rest = `(${cel.isHost(i)} ? ${cel.name(i)}.substring(${cel.first(i)}.size() + 1) : ${cel.name(i)})`
    const noTag = `(${cel.hasTag(i)} ? ${rest}.substring(0, ${rest}.lastIndexOf(':')) : ${rest})`
    return `((${cel.registry(i)} == 'docker.io' && !${noTag}.contains('/')) ? 'library/' + ${noTag} : ${noTag})`
  },
  /** Does allowlist entry `p` allow image `i`? host (no port), host:port, host/path prefix, *.domain. */
  allowedBy: (p: string, i: string) => {
    const pattern = `${p}.lowerAscii()`
    const host = `(${pattern}.contains('/') ? ${pattern}.split('/')[0] : ${pattern})`
    const hostNorm = `(${host} in ['index.docker.io', 'registry-1.docker.io'] ? 'docker.io' : ${host})`
    const path = `(${pattern}.contains('/') ? ${pattern}.substring(${host}.size() + 1).trim() : '')`
    const pathClean = `(${path}.endsWith('/') ? ${path}.substring(0, ${path}.size() - 1) : ${path})`
    const reg = cel.registry(i)
    const hostOk = `(${hostNorm}.startsWith('*.') ? (${reg}.endsWith(${hostNorm}.substring(1)) && !${reg}.contains(':')) : ${reg} == ${hostNorm})`
    const repo = cel.repository(i)
    return `(${hostOk} && (${pathClean} == '' || ${repo} == ${pathClean} || ${repo}.startsWith(${pathClean} + '/')))`
  },
}

export interface VapValidation {
  expression: string
  messageExpression: string
  reason: 'Forbidden'
}

/** The CEL validations for a policy; `images` is the variable holding every container image. */
export function vapValidations(policy: ImagePolicy): VapValidation[] {
  const validations: VapValidation[] = []
  const refused = (condition: string, what: string) => ({
    expression: `variables.images.all(i, ${condition})`,
    messageExpression: `'${what}: ' + variables.images.filter(i, !(${condition})).join(', ')`,
    reason: 'Forbidden' as const,
  })
  validations.push(refused(`i.matches('${REFERENCE_REGEX.replaceAll('\\', '\\\\')}')`, 'image-reference-invalid: not a valid image reference'))
  if (policy.allowedRegistries) {
    validations.push(refused(`params.data.allowedRegistries.split(',').exists(p, p.trim() != '' && ${cel.allowedBy('p.trim()', 'i')})`, 'image-registry-not-allowed: registry not in the allowed registries'))
  }
  if (policy.denyUntagged) validations.push(refused(`${cel.hasTag('i')} || ${cel.hasDigest('i')}`, 'image-tag-missing: no tag, so it means :latest; name a version'))
  if (policy.denyLatest) validations.push(refused(`!${cel.hasTag('i')} || ${cel.tag('i')} != 'latest'`, 'image-tag-latest: the mutable tag :latest; name a version'))
  if (policy.requireDigest) validations.push(refused(cel.hasDigest('i'), 'image-digest-missing: not pinned by digest'))
  return validations
}

/** The images of a Pod or of any workload's pod template: containers, init and ephemeral containers. */
export const IMAGES_EXPRESSION = [
  "(object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec))",
].map((spec) => `(has(${spec}.containers) ? ${spec}.containers : []) + (has(${spec}.initContainers) ? ${spec}.initContainers : []) + (has(${spec}.ephemeralContainers) ? ${spec}.ephemeralContainers : [])`)[0]

export function renderVapObjects(policy: ImagePolicy, options: {paramsNamespace: string}): object[] {
  const exempt = [...new Set(policy.exemptNamespaces)]
  const matchConditions = [
    // Mirror pods of static pods are the kubelet's: refusing them changes nothing but the API view.
    {name: 'not-a-mirror-pod', expression: "object.kind != 'Pod' || !has(object.metadata.annotations) || !('kubernetes.io/config.mirror' in object.metadata.annotations)"},
    ...(policy.breakGlass ? [{name: 'no-break-glass', expression: "!has(object.metadata.annotations) || !('alpha.image-policy.k8s.io/break-glass' in object.metadata.annotations) || object.metadata.annotations['alpha.image-policy.k8s.io/break-glass'] != 'true'"}] : []),
  ]
  const vap = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: {name: VAP_NAME, labels: {'app.kubernetes.io/managed-by': 'kubectl-imgsec'}},
    spec: {
      failurePolicy: 'Fail',
      ...(policy.allowedRegistries ? {paramKind: {apiVersion: 'v1', kind: 'ConfigMap'}} : {}),
      matchConstraints: {
        resourceRules: [
          {apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods', 'pods/ephemeralcontainers']},
          {apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets']},
          {apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['jobs', 'cronjobs']},
        ],
      },
      matchConditions,
      variables: [{name: 'images', expression: `(${IMAGES_EXPRESSION}).map(c, c.image)`}],
      validations: vapValidations(policy),
    },
  }
  const binding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: {name: VAP_NAME, labels: {'app.kubernetes.io/managed-by': 'kubectl-imgsec'}},
    spec: {
      policyName: VAP_NAME,
      validationActions: ['Deny'],
      ...(policy.allowedRegistries ? {paramRef: {name: PARAMS_NAME, namespace: options.paramsNamespace, parameterNotFoundAction: 'Deny'}} : {}),
      matchResources: exempt.length > 0 ? {namespaceSelector: {matchExpressions: [{key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: exempt}]}} : {},
    },
  }
  const params = policy.allowedRegistries
    ? [{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: PARAMS_NAME, namespace: options.paramsNamespace, labels: {'app.kubernetes.io/managed-by': 'kubectl-imgsec'}}, data: {allowedRegistries: policy.allowedRegistries.join(',')}}]
    : []
  return [...params, vap, binding]
}

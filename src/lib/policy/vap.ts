import type {ImagePolicy} from './policy.js'

/**
 * `whitelist enable --mode vap`: the same image rules as a ValidatingAdmissionPolicy (GA in
 * Kubernetes 1.30), so no backend, no manifest edit and no deadlock. The CEL mirrors the policy
 * engine: the reference grammar, Docker Hub normalisation, the allowlist patterns, the tag rules.
 * CREATE checks every image; UPDATE only the images it adds (see vapVariables). Checked by a real
 * kube-apiserver in test/k8s/whitelist-vap.test.ts; its cost budget: docs/vap.md.
 */

export const VAP_NAME = 'imgsec-image-policy'
export const PARAMS_NAME = 'imgsec-allowed-registries'

// distribution/reference's grammar, anchored (RE2, as CEL's matches() uses).
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*'
export const REFERENCE_REGEX = `^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`

/** CEL snippets over one image string `i` (evaluated once per image, in the `refs` variable). */
const cel = {
  name: (i: string) => `${i}.split('@')[0]`,
  last: (i: string) => `${cel.name(i)}.split('/')[${cel.name(i)}.split('/').size() - 1]`,
  hasTag: (i: string) => `${cel.last(i)}.contains(':')`,
  tag: (i: string) => `${cel.last(i)}.split(':')[1]`,
  first: (i: string) => `${cel.name(i)}.split('/')[0]`,
  isHost: (i: string) =>
    `(${cel.name(i)}.contains('/') && (${cel.first(i)}.contains('.') || ${cel.first(i)}.contains(':') || ${cel.first(i)} == 'localhost' || ${cel.first(i)}.lowerAscii() != ${cel.first(i)}))`,
  registry: (i: string) =>
    `(${cel.isHost(i)} ? (${cel.first(i)}.lowerAscii() in ['index.docker.io', 'registry-1.docker.io'] ? 'docker.io' : ${cel.first(i)}.lowerAscii()) : 'docker.io')`,
  /** Repository without registry and tag, with Docker Hub's library/ prefix. */
  repository: (i: string) => {
    const rest = `(${cel.isHost(i)} ? ${cel.name(i)}.substring(${cel.first(i)}.size() + 1) : ${cel.name(i)})`
    const noTag = `(${cel.hasTag(i)} ? ${rest}.substring(0, ${rest}.lastIndexOf(':')) : ${rest})`
    return `((${cel.registry(i)} == 'docker.io' && !${noTag}.contains('/')) ? 'library/' + ${noTag} : ${noTag})`
  },
}

/**
 * One image, parsed once: {image, registry (normalised, Docker Hub aliases folded), repository
 * (library/ added), tag ('' when none), digest ('' when none)}. Map values are all strings, as
 * Kubernetes CEL wants homogeneous literals: hence string(i), the image being dyn at run time
 * (the object has no schema there; kube-apiserver refuses the policy without it).
 */
const REF_EXPRESSION = (i: string) =>
  `{'image': string(${i}), 'registry': ${cel.registry(i)}, 'repository': ${cel.repository(i)}, 'tag': (${cel.hasTag(i)} ? ${cel.tag(i)} : ''), 'digest': (${i}.contains('@') ? ${i}.substring(${i}.indexOf('@') + 1) : '')}`

/**
 * One allowlist entry `p` (already trimmed and lower-cased), parsed once: {host (Docker Hub
 * aliases folded), suffix ('.example.com' for *.example.com, else ''), path (no trailing /)}.
 */
const ALLOWED_EXPRESSION = (p: string) => {
  const host = `(${p}.contains('/') ? ${p}.split('/')[0] : ${p})`
  const hostNorm = `(${host} in ['index.docker.io', 'registry-1.docker.io'] ? 'docker.io' : ${host})`
  const path = `(${p}.contains('/') ? ${p}.substring(${host}.size() + 1).trim() : '')`
  const pathClean = `(${path}.endsWith('/') ? ${path}.substring(0, ${path}.size() - 1) : ${path})`
  return `{'host': ${hostNorm}, 'suffix': (${host}.startsWith('*.') ? ${host}.substring(1) : ''), 'path': ${pathClean}}`
}

/**
 * Does allowlist entry `a` allow image `r`? host (no port), host:port, host/path prefix (whole
 * path components), *.domain (no port in the part the wildcard covers).
 */
const ALLOWED_BY = (a: string, r: string) =>
  `((${a}.suffix != '' ? (${r}.registry.endsWith(${a}.suffix) && !${r}.registry.substring(0, ${r}.registry.size() - ${a}.suffix.size()).contains(':')) : ${r}.registry == ${a}.host) && (${a}.path == '' || ${r}.repository == ${a}.path || ${r}.repository.startsWith(${a}.path + '/')))`

export interface VapValidation {
  expression: string
  messageExpression: string
  /** The fallback when the messageExpression fails or its result is too long (over 5 KiB). */
  message: string
  reason: 'Forbidden'
}

export interface VapVariable {
  name: string
  expression: string
}

/**
 * The CEL validations for a policy. They read the variables of vapVariables(): `checked` (the
 * image strings to check) and `refs` (the same images, parsed once), and `allowed` (the parsed
 * allowlist), so that the work per image × allowlist entry is a few comparisons (the CEL cost
 * budget: docs/vap.md).
 */
export function vapValidations(policy: ImagePolicy): VapValidation[] {
  const validations: VapValidation[] = []
  const refused = (list: string, v: string, condition: string, what: string, image = v) => ({
    expression: `variables.${list}.all(${v}, ${condition})`,
    messageExpression: `'${what}: ' + variables.${list}.filter(${v}, !(${condition}))${image === v ? '' : `.map(${v}, ${image})`}.join(', ')`,
    message: what,
    reason: 'Forbidden' as const,
  })
  validations.push(
    refused(
      'checked',
      'i',
      `i.matches('${REFERENCE_REGEX.replaceAll('\\', '\\\\')}')`,
      'image-reference-invalid: not a valid image reference',
    ),
  )
  if (policy.allowedRegistries) {
    validations.push(
      refused(
        'refs',
        'r',
        `variables.allowed.exists(a, ${ALLOWED_BY('a', 'r')})`,
        'image-registry-not-allowed: registry not in the allowed registries',
        'r.image',
      ),
    )
  }
  if (policy.denyUntagged)
    validations.push(
      refused(
        'refs',
        'r',
        "r.tag != '' || r.digest != ''",
        'image-tag-missing: no tag, so it means :latest; name a version',
        'r.image',
      ),
    )
  if (policy.denyLatest)
    validations.push(
      refused('refs', 'r', "r.tag != 'latest'", 'image-tag-latest: the mutable tag :latest; name a version', 'r.image'),
    )
  if (policy.requireDigest)
    validations.push(refused('refs', 'r', "r.digest != ''", 'image-digest-missing: not pinned by digest', 'r.image'))
  return validations
}

/** The container list (containers, init and ephemeral containers) of a Pod or of a workload's pod template, in `root`. */
export function containersExpression(root: string): string {
  const spec = `(${root}.kind == 'Pod' ? ${root}.spec : (${root}.kind == 'CronJob' ? ${root}.spec.jobTemplate.spec.template.spec : ${root}.spec.template.spec))`
  return `(has(${spec}.containers) ? ${spec}.containers : []) + (has(${spec}.initContainers) ? ${spec}.initContainers : []) + (has(${spec}.ephemeralContainers) ? ${spec}.ephemeralContainers : [])`
}

/** The images of a Pod or of any workload's pod template: containers, init and ephemeral containers. */
export const IMAGES_EXPRESSION = containersExpression('object')

/**
 * The policy's variables, in order (each may use the ones before it):
 * - images: every image of the object;
 * - oldImages: on UPDATE, every image of the object before the update; else none;
 * - checked: the images to check: on CREATE all of them, on UPDATE only those the update adds.
 *   So scaling, labelling or the Deployment controller updating a ReplicaSet that ran before
 *   the policy (or before the allowlist shrank) is not refused; a new image is checked in full;
 * - refs: the checked images, parsed once;
 * - allowed: the allowlist from the params ConfigMap, parsed once (only with an allowlist).
 */
export function vapVariables(policy: ImagePolicy): VapVariable[] {
  return [
    {name: 'images', expression: `(${IMAGES_EXPRESSION}).map(c, c.image)`},
    {
      name: 'oldImages',
      expression: `request.operation == 'UPDATE' ? (${containersExpression('oldObject')}).map(c, c.image) : []`,
    },
    {name: 'checked', expression: 'variables.images.filter(i, !(i in variables.oldImages))'},
    {name: 'refs', expression: `variables.checked.map(i, ${REF_EXPRESSION('i')})`},
    ...(policy.allowedRegistries
      ? [
          {
            name: 'allowed',
            expression: `params.data.allowedRegistries.split(',').map(p, p.trim().lowerAscii()).filter(p, p != '').map(p, ${ALLOWED_EXPRESSION('p')})`,
          },
        ]
      : []),
  ]
}

/**
 * Whether the break-glass annotation is set where the pods will carry it: on a Pod itself, else on
 * the workload's pod template (a Deployment's own annotations do not reach its pods).
 */
export function breakGlassExpression(root = 'object'): string {
  const key = "'alpha.image-policy.k8s.io/break-glass'"
  const on = (meta: string) =>
    `(has(${meta}) && has(${meta}.annotations) && ${key} in ${meta}.annotations && ${meta}.annotations[${key}] == 'true')`
  return `${root}.kind == 'Pod' ? ${on(`${root}.metadata`)} : (${root}.kind == 'CronJob' ? ${on(`${root}.spec.jobTemplate.spec.template.metadata`)} : ${on(`${root}.spec.template.metadata`)})`
}

/**
 * The three objects of `whitelist enable --mode vap`. Break-glass is off unless asked for: with it,
 * anyone who may create pods could bypass the allowlist with one annotation. When on, every
 * reviewed request carries the audit annotation `imgsec-image-policy/break-glass` ("true" when used).
 */
export function renderVapObjects(
  policy: ImagePolicy,
  options: {paramsNamespace: string; breakGlass?: boolean},
): object[] {
  const exempt = [...new Set(policy.exemptNamespaces)]
  const matchConditions = [
    // Mirror pods of static pods are the kubelet's: refusing them changes nothing but the API view.
    {
      name: 'not-a-mirror-pod',
      expression:
        "object.kind != 'Pod' || !has(object.metadata.annotations) || !('kubernetes.io/config.mirror' in object.metadata.annotations)",
    },
  ]
  const variables = [
    ...vapVariables(policy),
    ...(options.breakGlass ? [{name: 'breakGlass', expression: breakGlassExpression()}] : []),
  ]
  const validations = vapValidations(policy).map((validation) =>
    options.breakGlass ? {...validation, expression: `variables.breakGlass || (${validation.expression})`} : validation,
  )
  const vap = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: {name: VAP_NAME, labels: {'app.kubernetes.io/managed-by': 'kubectl-imgsec'}},
    spec: {
      failurePolicy: 'Fail',
      ...(policy.allowedRegistries ? {paramKind: {apiVersion: 'v1', kind: 'ConfigMap'}} : {}),
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['pods', 'pods/ephemeralcontainers'],
          },
          {
            apiGroups: ['apps'],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'],
          },
          {
            apiGroups: ['batch'],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['jobs', 'cronjobs'],
          },
        ],
      },
      matchConditions,
      variables,
      validations,
      // kube-apiserver type-checks valueExpression as string or null, and refuses a conditional
      // between the two ("no matching overload for _?_:_"): so every reviewed request records it.
      ...(options.breakGlass
        ? {auditAnnotations: [{key: 'break-glass', valueExpression: "variables.breakGlass ? 'true' : 'false'"}]}
        : {}),
    },
  }
  const binding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: {name: VAP_NAME, labels: {'app.kubernetes.io/managed-by': 'kubectl-imgsec'}},
    spec: {
      policyName: VAP_NAME,
      validationActions: ['Deny'],
      ...(policy.allowedRegistries
        ? {paramRef: {name: PARAMS_NAME, namespace: options.paramsNamespace, parameterNotFoundAction: 'Deny'}}
        : {}),
      matchResources:
        exempt.length > 0
          ? {
              namespaceSelector: {
                matchExpressions: [{key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: exempt}],
              },
            }
          : {},
    },
  }
  const params = policy.allowedRegistries
    ? [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            name: PARAMS_NAME,
            namespace: options.paramsNamespace,
            labels: {'app.kubernetes.io/managed-by': 'kubectl-imgsec'},
          },
          data: {allowedRegistries: policy.allowedRegistries.join(',')},
        },
      ]
    : []
  return [...params, vap, binding]
}

// The fake's authorizer: deny rules over verb, resource and namespace, and the
// SelfSubjectAccessReviews answered from them.

import {ApiError} from './errors.js'
import {isObject, type Obj} from './json.js'
import {qualified} from './resources.js'
import type {Reply, Route} from './routes.js'

export interface DenyRule {
  verb: string
  resource: string
  namespace?: string
}

/** What the default ClusterRole system:basic-user lets every authenticated user create. */
const BASIC_USER_RESOURCES = ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']

/**
 * Whether a deny rule refuses verb on resource in namespace (the fake's whole authorizer). A
 * wildcard rule leaves alone what the default ClusterRole system:basic-user grants every
 * authenticated user on a real cluster (creating SelfSubjectAccessReviews); a rule naming that
 * resource still refuses it.
 */
export function isDenied(
  denyRules: DenyRule[],
  verb: string,
  resource: string,
  namespace: string | undefined,
): boolean {
  const basicUser = verb === 'create' && BASIC_USER_RESOURCES.includes(resource)
  return denyRules.some(
    (rule) =>
      (rule.verb === verb || (rule.verb === '*' && !basicUser)) &&
      (rule.resource === resource || (rule.resource === '*' && !basicUser)) &&
      (rule.namespace === undefined || rule.namespace === namespace),
  )
}

/**
 * SelfSubjectAccessReview: answered from the deny rules, never stored (as the real API does). The
 * spec comes back as the server decoded it (empty fields omitted); a refusal carries no reason,
 * as RBAC gives none. With no deny rules the fake is cluster-admin (system:masters: allowed, no
 * reason); with some, the user is an ordinary one, whose system:basic-user grant RBAC names.
 */
export function accessReview(denyRules: DenyRule[], body: Obj): Reply {
  const prune = (value: unknown) =>
    isObject(value)
      ? Object.fromEntries(Object.entries(value).filter(([, v]) => v !== '' && v !== null && v !== undefined))
      : undefined
  const resourceAttributes = prune(body.spec?.resourceAttributes)
  const nonResourceAttributes = prune(body.spec?.nonResourceAttributes)
  const attributes = (resourceAttributes ?? {}) as {
    verb?: string
    resource?: string
    subresource?: string
    namespace?: string
  }
  const resource = attributes.subresource
    ? `${attributes.resource}/${attributes.subresource}`
    : String(attributes.resource ?? '')
  const verb = String(attributes.verb ?? '')
  const denied = isDenied(denyRules, verb, resource, attributes.namespace || undefined)
  const status = denied
    ? {allowed: false}
    : denyRules.length > 0 && verb === 'create' && BASIC_USER_RESOURCES.includes(resource)
      ? {
          allowed: true,
          reason:
            'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated"',
        }
      : {allowed: true}
  const spec = {
    ...(resourceAttributes ? {resourceAttributes} : {}),
    ...(nonResourceAttributes ? {nonResourceAttributes} : {}),
  }
  return {
    code: 201,
    body: {kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: {}, spec, status},
  }
}

export function authorize(denyRules: DenyRule[], verb: string, route: Route, user: string): void {
  if (verb === 'unsupported') return
  const {def, name} = route
  const namespace = def.namespaced ? route.namespace : undefined
  // RBAC names subresources "resource/subresource"; a rule for the parent does not cover them.
  const resource = route.subresource ? `${def.resource}/${route.subresource}` : def.resource
  if (!isDenied(denyRules, verb, resource, namespace)) return
  // The authorizer runs before the body is read, so a create never names the object.
  const subject = name !== undefined && verb !== 'create' ? `${qualified(def)} "${name}"` : qualified(def)
  const scope = namespace === undefined ? 'at the cluster scope' : `in the namespace "${namespace}"`
  throw new ApiError(
    403,
    'Forbidden',
    `${subject} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${def.group}" ${scope}`,
    {
      name: verb === 'create' ? undefined : name,
      group: def.group,
      kind: def.resource,
    },
  )
}

// Discovery (/api, /apis, /version) and OpenAPI v3 documents, enough for kubectl and
// @kubernetes/client-node to find the resources of the table.

import type {Json} from './json.js'
import {GROUPS, type ResourceDef, RESOURCES, VERBS} from './resources.js'

export function discoveryDocument(segments: string[]): Json | undefined {
  const joined = segments.join('/')
  if (joined === 'version') {
    return {
      major: '1',
      minor: '32',
      gitVersion: 'v1.32.0',
      gitCommit: '70d3cc986aa8221cd1dfb1121852688902d3bf53',
      gitTreeState: 'clean',
      buildDate: '2024-12-11T17:59:15Z',
      goVersion: 'go1.23.3',
      compiler: 'gc',
      platform: 'linux/amd64',
    }
  }
  const serverAddress = [{clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1'}]
  if (joined === 'api') return {kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: serverAddress}
  const groupEntry = (group: string) => {
    const version = RESOURCES.find((r) => r.group === group)!.version
    const gv = {groupVersion: `${group}/${version}`, version}
    return {name: group, versions: [gv], preferredVersion: gv}
  }
  if (joined === 'apis') return {kind: 'APIGroupList', apiVersion: 'v1', groups: GROUPS.map(groupEntry)}
  if (segments[0] === 'apis' && segments.length === 2 && GROUPS.includes(segments[1])) {
    return {kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(segments[1])}
  }
  let group: string | undefined
  let version: string | undefined
  if (segments[0] === 'api' && segments.length === 2) [group, version] = ['', segments[1]]
  if (segments[0] === 'apis' && segments.length === 3) [group, version] = [segments[1], segments[2]]
  if (group === undefined) return undefined
  const defs = RESOURCES.filter((r) => r.group === group && r.version === version)
  if (defs.length === 0) return undefined
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: defs.flatMap((def) => [
      {
        name: def.resource,
        singularName: def.singular,
        namespaced: def.namespaced,
        kind: def.kind,
        verbs: VERBS,
        ...(def.shortNames ? {shortNames: def.shortNames} : {}),
        ...(def.categories ? {categories: def.categories} : {}),
      },
      ...(def.scale
        ? [
            {
              name: `${def.resource}/scale`,
              singularName: '',
              namespaced: def.namespaced,
              group: 'autoscaling',
              version: 'v1',
              kind: 'Scale',
              verbs: ['get', 'patch', 'update'],
            },
          ]
        : []),
      ...(def.status
        ? [
            {
              name: `${def.resource}/status`,
              singularName: '',
              namespaced: def.namespaced,
              kind: def.kind,
              verbs: ['get', 'patch', 'update'],
            },
          ]
        : []),
    ]),
  }
}

// kubectl apply/create -f download OpenAPI v3 to learn whether the server
// validates fields itself (the fieldValidation query parameter). Answering
// "yes" makes kubectl send fieldValidation=Strict instead of demanding full
// schemas. PATCH operations deliberately list no strategic-merge media type,
// so client-side apply computes its patch from kubectl's built-in Go types,
// which carry the real patch strategies.
const QUERY_PARAMS = [
  'dryRun',
  'fieldManager',
  'fieldValidation',
  'force',
  'pretty',
  'labelSelector',
  'fieldSelector',
  'limit',
  'continue',
  'resourceVersion',
  'watch',
]

function groupVersionPath(def: ResourceDef): string {
  return def.group ? `apis/${def.group}/${def.version}` : `api/${def.version}`
}

export function openApiV3Document(segments: string[], hashOf: (text: string) => string): Json | undefined {
  const groupVersions = [...new Set(RESOURCES.map(groupVersionPath))]
  if (segments.length === 2) {
    const paths: Record<string, Json> = {}
    for (const gv of groupVersions)
      paths[gv] = {
        serverRelativeURL: `/openapi/v3/${gv}?hash=${hashOf(JSON.stringify(openApiV3Document(['openapi', 'v3', ...gv.split('/')], hashOf)))}`,
      }
    return {paths}
  }
  const gv = segments.slice(2).join('/')
  if (!groupVersions.includes(gv)) return undefined
  const paths: Record<string, Json> = {}
  const schemas: Record<string, Json> = {}
  const parameters = QUERY_PARAMS.map((name) => ({name, in: 'query', schema: {type: 'string', uniqueItems: true}}))
  for (const def of RESOURCES.filter((r) => groupVersionPath(r) === gv)) {
    const gvk = {group: def.group, version: def.version, kind: def.kind}
    const schemaName = `io.k8s.fake.${def.group || 'core'}.${def.version}.${def.kind}`
    schemas[schemaName] = {type: 'object', 'x-kubernetes-group-version-kind': [gvk]}
    const ref = {$ref: `#/components/schemas/${schemaName}`}
    const op = (action: string, mediaTypes?: string[]) => ({
      operationId: `${action}${def.kind}`,
      parameters,
      ...(mediaTypes ? {requestBody: {content: Object.fromEntries(mediaTypes.map((m) => [m, {schema: ref}]))}} : {}),
      responses: {200: {description: 'OK', content: {'application/json': {schema: ref}}}},
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
    })
    const base = `/${gv}${def.namespaced ? '/namespaces/{namespace}' : ''}/${def.resource}`
    paths[base] = {get: op('list'), post: op('post', ['application/json']), delete: op('deletecollection')}
    paths[`${base}/{name}`] = {
      get: op('get'),
      put: op('put', ['application/json']),
      patch: op('patch', [
        'application/json-patch+json',
        'application/merge-patch+json',
        'application/apply-patch+yaml',
      ]),
      delete: op('delete'),
    }
  }
  return {openapi: '3.0.0', info: {title: 'Kubernetes', version: 'v1.32.0'}, paths, components: {schemas}}
}

// Decoding request bodies: content types (JSON, its YAML subset, protobuf), type meta and unknown
// fields (fieldValidation Strict, Warn, Ignore).

import {badRequest, unsupportedMediaType} from './errors.js'
import {isObject, type Obj} from './json.js'
import {PatchError} from './json-patch.js'
import {decodeKubeProtobuf} from './protobuf.js'
import {apiVersionOf, type ResourceDef} from './resources.js'
import {normalizeSecretPayload, unknownFields} from './validation.js'

export const PROTOBUF = 'application/vnd.kubernetes.protobuf'

export function mediaType(header: string | undefined): string | undefined {
  return header?.split(';')[0].trim().toLowerCase() || undefined
}

export function parseBody(
  def: ResourceDef,
  contentType: string | undefined,
  raw: Buffer,
  query: Record<string, string>,
  warnings: string[],
): Obj {
  // Real apiservers treat a missing Content-Type as JSON; YAML is accepted only
  // in its JSON subset because this fake has no YAML parser.
  if (contentType !== undefined && !['application/json', 'application/yaml', PROTOBUF].includes(contentType)) {
    throw unsupportedMediaType(['application/json', 'application/yaml', PROTOBUF])
  }
  let body: unknown
  try {
    body = contentType === PROTOBUF ? decodeKubeProtobuf(raw) : JSON.parse(raw.toString('utf8'))
  } catch (error) {
    if (error instanceof PatchError) throw unsupportedMediaType(['application/json', 'application/yaml'])
    throw badRequest(`couldn't get version/kind; json parse error: ${(error as Error).message}`)
  }
  if (!isObject(body))
    throw badRequest(
      `couldn't get version/kind; json parse error: json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`,
    )
  checkTypeMeta(def, body)
  checkFields(def, body, query, warnings)
  normalizeSecretPayload(def, body)
  return body
}

export function checkFields(def: ResourceDef, obj: Obj, query: Record<string, string>, warnings: string[]): void {
  const unknown = unknownFields(def, obj)
  if (unknown.length === 0) return
  if (query.fieldValidation === 'Strict')
    throw badRequest(`strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`)
  for (const field of unknown) {
    if (field.startsWith('metadata.')) delete obj.metadata[field.slice('metadata.'.length)]
    else delete obj[field]
    if (query.fieldValidation !== 'Ignore') warnings.push(`unknown field "${field}"`)
  }
}

export function checkTypeMeta(def: ResourceDef, body: Obj): void {
  if (body.apiVersion !== undefined && body.apiVersion !== '' && body.apiVersion !== apiVersionOf(def)) {
    throw badRequest(
      `the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(def)})`,
    )
  }
  if (body.kind !== undefined && body.kind !== '' && body.kind !== def.kind) {
    throw badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${def.kind})`)
  }
  if (body.metadata !== undefined && !isObject(body.metadata)) {
    throw badRequest(
      `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: json: cannot unmarshal into Go struct field ${def.kind}.metadata of type v1.ObjectMeta`,
    )
  }
}

// Object validation as kube-apiserver's registry strategies do it: names, Secret payloads and
// types, unknown fields; errors come back as metav1.StatusCause lists.

import {deepEqual, isObject, type Json} from './json.js'
import {type ResourceDef, SERVICE_ACCOUNTS} from './resources.js'

/** A body the server cannot decode into its Go type; the server answers 400 like the real one. */
export class DecodeError extends Error {}

export interface StatusCause {
  reason: string
  message: string
  field: string
}

const quote = (value: unknown) => JSON.stringify(value)
const fieldInvalid = (field: string, value: unknown, detail: string): StatusCause => ({
  reason: 'FieldValueInvalid',
  message: `Invalid value: ${typeof value === 'string' ? quote(value) : JSON.stringify(value)}: ${detail}`,
  field,
})
export const fieldRequired = (field: string, detail = ''): StatusCause => ({
  reason: 'FieldValueRequired',
  message: `Required value${detail ? ': ' + detail : ''}`,
  field,
})
const fieldForbidden = (field: string, detail: string): StatusCause => ({
  reason: 'FieldValueForbidden',
  message: `Forbidden: ${detail}`,
  field,
})

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/

/**
 * metadata.name errors, as apimachinery's IsDNS1123Label / IsDNS1123Subdomain / IsDNS1035Label
 * report them: the length and the pattern are separate errors (both may apply), and a label that
 * would be a valid subdomain is told it "must not contain dots".
 */
export function nameErrors(def: ResourceDef, name: string, field = 'metadata.name'): StatusCause[] {
  const messages: string[] = []
  if (def.resource === 'namespaces') {
    if (name.length > 63) messages.push('must be no more than 63 characters')
    if (!DNS1123_LABEL.test(name)) {
      messages.push(
        DNS1123_SUBDOMAIN.test(name)
          ? 'must not contain dots'
          : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
      )
    }
  } else if (def.resource === 'services') {
    if (name.length > 63) messages.push('must be no more than 63 characters')
    if (!DNS1035_LABEL.test(name)) {
      messages.push(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
      )
    }
  } else {
    if (name.length > 253) messages.push('must be no more than 253 characters')
    if (!DNS1123_SUBDOMAIN.test(name)) {
      messages.push(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      )
    }
  }
  return messages.map((message) => fieldInvalid(field, name, message))
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Where Go's base64 decoder would give up, or undefined for valid standard base64. */
function base64ErrorAt(value: unknown): number | undefined {
  if (typeof value !== 'string') return 0
  if (BASE64.test(value)) return undefined
  const badChar = value.search(/[^A-Za-z0-9+/=]/)
  if (badChar >= 0) return badChar
  const padding = value.indexOf('=')
  if (padding >= 0 && padding < value.length - 2) return padding
  return value.length - (value.length % 4 || 4)
}

/**
 * Secret.data is []byte on the server, so bad base64 fails decoding (400), not validation (422).
 * stringData is write-only: folded into data and dropped, as the real conversion does.
 */
export function normalizeSecretPayload(def: ResourceDef, obj: Record<string, Json>): void {
  if (def.resource !== 'secrets') return
  if (obj.data !== undefined && obj.data !== null && !isObject(obj.data)) {
    throw new DecodeError(
      `Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal ${Array.isArray(obj.data) ? 'array' : typeof obj.data} into Go struct field Secret.data of type map[string][]uint8`,
    )
  }
  for (const [key, value] of Object.entries(obj.data ?? {})) {
    const at = base64ErrorAt(value)
    if (at !== undefined)
      throw new DecodeError(
        `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${at} (data[${key}])`,
      )
  }
  if (isObject(obj.stringData)) {
    obj.data = {...obj.data}
    for (const [key, value] of Object.entries(obj.stringData))
      obj.data[key] = Buffer.from(String(value), 'utf8').toString('base64')
  }
  delete obj.stringData
  if (obj.data === null) delete obj.data
}

/**
 * What a registry strategy's PrepareForCreate/PrepareForUpdate changes before validation:
 * ServiceAccount.secrets entries keep only their name (cleanSecretReferences).
 */
export function prepareForStorage(def: ResourceDef, obj: Record<string, Json>): void {
  if (def === SERVICE_ACCOUNTS && Array.isArray(obj.secrets)) {
    obj.secrets = obj.secrets.map((ref: Json) =>
      isObject(ref) && typeof ref.name === 'string' && ref.name !== '' ? {name: ref.name} : {},
    )
  }
}

export function validate(def: ResourceDef, obj: Record<string, Json>, old?: Record<string, Json>): StatusCause[] {
  const errors: StatusCause[] = []
  const name: string = obj.metadata?.name ?? ''
  errors.push(...nameErrors(def, name))
  if (def.resource === 'secrets' || def.resource === 'configmaps') {
    for (const section of def.resource === 'secrets' ? ['data'] : ['data', 'binaryData']) {
      for (const key of Object.keys(obj[section] ?? {})) {
        if (!CONFIG_KEY.test(key)) {
          errors.push(
            fieldInvalid(
              `${section}[${key}]`,
              key,
              "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            ),
          )
        }
      }
    }
  }
  if (def.resource === 'secrets') errors.push(...secretTypeErrors(obj))
  if (old) {
    if (def.resource === 'secrets' && (obj.type ?? 'Opaque') !== (old.type ?? 'Opaque')) {
      errors.push(fieldInvalid('type', obj.type ?? 'Opaque', 'field is immutable'))
    }
    if ((def.resource === 'secrets' || def.resource === 'configmaps') && old.immutable === true) {
      if (obj.immutable !== true) errors.push(fieldForbidden('immutable', 'field is immutable when `immutable` is set'))
      if (!deepEqual(obj.data, old.data))
        errors.push(fieldForbidden('data', 'field is immutable when `immutable` is set'))
      if (def.resource === 'configmaps' && !deepEqual(obj.binaryData, old.binaryData))
        errors.push(fieldForbidden('binaryData', 'field is immutable when `immutable` is set'))
    }
  }
  return errors
}

function secretTypeErrors(secret: Record<string, Json>): StatusCause[] {
  const data: Record<string, string> = secret.data ?? {}
  const has = (key: string) => Object.hasOwn(data, key)
  const decoded = (key: string) => Buffer.from(data[key], 'base64').toString('utf8')
  const jsonError = (key: string): StatusCause | undefined => {
    try {
      const parsed = JSON.parse(decoded(key))
      if (!isObject(parsed))
        throw new Error(
          `json: cannot unmarshal ${Array.isArray(parsed) ? 'array' : typeof parsed} into Go value of type map[string]interface {}`,
        )
      return undefined
    } catch (error) {
      return fieldInvalid(`data[${key}]`, '<secret contents redacted>', (error as Error).message)
    }
  }
  const errors: StatusCause[] = []
  switch (secret.type) {
    case 'kubernetes.io/dockerconfigjson':
      if (!has('.dockerconfigjson')) errors.push(fieldRequired('data[.dockerconfigjson]'))
      else {
        const error = jsonError('.dockerconfigjson')
        if (error) errors.push(error)
      }
      break
    case 'kubernetes.io/dockercfg':
      if (!has('.dockercfg')) errors.push(fieldRequired('data[.dockercfg]'))
      else {
        const error = jsonError('.dockercfg')
        if (error) errors.push(error)
      }
      break
    case 'kubernetes.io/basic-auth':
      if (!has('username') && !has('password'))
        errors.push(fieldRequired('data[username]'), fieldRequired('data[password]'))
      break
    case 'kubernetes.io/ssh-auth':
      if (!has('ssh-privatekey')) errors.push(fieldRequired('data[ssh-privatekey]'))
      break
    case 'kubernetes.io/tls':
      if (!has('tls.key')) errors.push(fieldRequired('data[tls.key]'))
      if (!has('tls.crt')) errors.push(fieldRequired('data[tls.crt]'))
      break
    case 'kubernetes.io/service-account-token':
      if (!secret.metadata?.annotations?.['kubernetes.io/service-account.name']) {
        errors.push(fieldRequired('metadata.annotations[kubernetes.io/service-account.name]'))
      }
      break
  }
  return errors
}

const OBJECT_META_FIELDS = new Set([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
])
const TOP_LEVEL_FIELDS: Record<string, string[]> = {
  Secret: ['data', 'stringData', 'type', 'immutable'],
  ConfigMap: ['data', 'binaryData', 'immutable'],
  ServiceAccount: ['secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
  ValidatingAdmissionPolicyBinding: ['spec'],
}

/**
 * Fields the real server's Go types have no place for: it drops them (with a
 * warning) or, under fieldValidation=Strict, refuses the request. Only the top
 * level and metadata are checked; nested spec fields are not modelled.
 */
export function unknownFields(def: ResourceDef, obj: Record<string, Json>): string[] {
  const known = new Set(['apiVersion', 'kind', 'metadata', ...(TOP_LEVEL_FIELDS[def.kind] ?? ['spec', 'status'])])
  const unknown = Object.keys(obj).filter((k) => !known.has(k))
  if (isObject(obj.metadata))
    unknown.push(
      ...Object.keys(obj.metadata)
        .filter((k) => !OBJECT_META_FIELDS.has(k))
        .map((k) => `metadata.${k}`),
    )
  return unknown
}

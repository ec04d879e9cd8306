import {stringify as stringifyYaml} from 'yaml'
import {type KubeObject, objectName} from '../lib/cluster/objects.js'

export type {KubeObject} from '../lib/cluster/objects.js'
export {objectName} from '../lib/cluster/objects.js'

export const OUTPUT_FORMATS = ['json', 'yaml', 'name'] as const
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]

/**
 * YAML as kubectl prints it (sigs.k8s.io/yaml over go-yaml v2): keys sorted, sequences not
 * indented, no line folding, and strings that YAML 1.1 would read as something else quoted
 * ("yes", "on", timestamps), which the 1.1 schema does here.
 */
export function toKubectlYaml(object: unknown): string {
  return stringifyYaml(object, {version: '1.1', sortMapEntries: true, indentSeq: false, lineWidth: 0})
}

/** Timestamps as Kubernetes serialises metav1.Time: RFC 3339 in seconds (client-node hands back Dates). */
function asSerialized(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString().replace(/\.\d{3}Z$/, 'Z')
  if (Array.isArray(value)) return value.map((item) => asSerialized(item))
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, item]) => item !== undefined)
        .map(([key, item]) => [key, asSerialized(item)]),
    )
  }
  return value
}

/**
 * Render objects the way kubectl does: JSON with 4-space indentation or YAML, several objects as a
 * v1 List (so the output stays one parsable document), or names.
 */
export function formatObjects(objects: KubeObject[], format: OutputFormat): string {
  // kubectl hides metadata.managedFields unless --show-managed-fields.
  const serialized = objects.map((object) => {
    const copy = asSerialized(object) as KubeObject
    if (copy.metadata && 'managedFields' in copy.metadata) delete copy.metadata.managedFields
    return copy
  })
  const value =
    serialized.length === 1
      ? serialized[0]
      : {apiVersion: 'v1', items: serialized, kind: 'List', metadata: {resourceVersion: ''}}
  switch (format) {
    case 'json':
      return JSON.stringify(value, null, 4) + '\n'
    case 'yaml':
      return toKubectlYaml(value)
    case 'name':
      return objects.map((object) => objectName(object) + '\n').join('')
  }
}

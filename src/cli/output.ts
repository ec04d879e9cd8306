import {stringify as stringifyYaml} from 'yaml'
import {type KubeObject, objectName} from '../lib/cluster/objects.js'

export type {KubeObject} from '../lib/cluster/objects.js'
export {objectName} from '../lib/cluster/objects.js'

export const OUTPUT_FORMATS = ['json', 'yaml', 'name'] as const
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]

/** YAML as kubectl prints it: keys sorted, sequences not indented, no line folding. */
export function toKubectlYaml(object: unknown): string {
  return stringifyYaml(object, {sortMapEntries: true, indentSeq: false, lineWidth: 0})
}

/**
 * Render objects the way kubectl does: JSON with 4-space indentation (several objects as a v1
 * List, so the output stays one parsable document), YAML documents separated by `---`, or names.
 */
export function formatObjects(objects: KubeObject[], format: OutputFormat): string {
  switch (format) {
    case 'json': {
      const value = objects.length === 1 ? objects[0] : {apiVersion: 'v1', items: objects, kind: 'List', metadata: {resourceVersion: ''}}
      return JSON.stringify(value, null, 4) + '\n'
    }
    case 'yaml':
      return objects.map((object) => toKubectlYaml(object)).join('---\n')
    case 'name':
      return objects.map((object) => objectName(object) + '\n').join('')
  }
}

import {readdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {type Document, LineCounter, parseAllDocuments} from 'yaml'

import {describeSystemError, yamlProblem} from '../describe-error.js'
import {flattenLists, type Path} from './workloads.js'

/** One Kubernetes object read from a file, with a way to find the line of any of its fields. */
export interface ManifestObject {
  object: Record<string, any>
  file: string
  /** Line of the field at `path` inside this object (falls back to the object's first line). */
  lineOf(path: Path): number
  /** Where the scalar at `path` is written in the file text, and how it is quoted (for byte-exact edits). */
  scalarAt(path: Path): ScalarLocation | undefined
}

export interface ScalarLocation {
  start: number
  end: number
  style: 'plain' | 'double' | 'single' | 'other'
}

export interface ManifestReadError {
  file: string
  line?: number
  message: string
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json'])

/** Files under each argument: a file, a directory (recursive, .yaml/.yml/.json, sorted), or `-` for stdin. */
export function manifestFiles(inputs: string[]): {files: string[]; errors: ManifestReadError[]} {
  const files: string[] = []
  const errors: ManifestReadError[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, {withFileTypes: true}).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (MANIFEST_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) files.push(full)
    }
  }
  for (const input of inputs) {
    if (input === '-') {
      files.push('-')
      continue
    }
    try {
      if (statSync(input).isDirectory()) walk(input)
      else files.push(input)
    } catch (error) {
      errors.push({file: input, message: `cannot be read: ${describeSystemError(error)}`})
    }
  }
  return {files, errors}
}

/**
 * Parse a multi-document YAML (or JSON, which is YAML) text into objects, flattening `List`s.
 * A syntax error names the line and skips that document only.
 */
export function parseManifests(text: string, file: string): {objects: ManifestObject[]; errors: ManifestReadError[]} {
  const lineCounter = new LineCounter()
  const documents = parseAllDocuments(text, {lineCounter}) as Document.Parsed[] | {errors: Array<{message: string; linePos?: Array<{line: number}>}>}
  const objects: ManifestObject[] = []
  const errors: ManifestReadError[] = []
  if (!Array.isArray(documents)) {
    for (const error of documents.errors) errors.push({file, line: error.linePos?.[0]?.line, message: `YAML syntax error: ${yamlProblem({...error, linePos: undefined})}`})
    return {objects, errors}
  }
  for (const document of documents) {
    if (document.errors.length > 0) {
      const error = document.errors[0]
      // The parser's message quotes the line (a Secret's stringData, say): the line number and the kind of problem only.
      errors.push({file, line: error.linePos?.[0]?.line ?? lineCounter.linePos(error.pos[0]).line, message: `YAML syntax error: ${yamlProblem({code: error.code})}`})
      continue
    }
    let value: unknown
    try {
      value = document.toJS({maxAliasCount: 1000})
    } catch (error) {
      errors.push({file, line: document.contents ? lineCounter.linePos(document.contents.range![0]).line : undefined, message: `YAML syntax error: ${yamlProblem(error)}`})
      continue
    }
    if (value === null || value === undefined) continue
    if (typeof value !== 'object' || Array.isArray(value)) {
      errors.push({file, line: document.contents ? lineCounter.linePos(document.contents.range![0]).line : undefined, message: 'not a Kubernetes object (expected a mapping with apiVersion and kind)'})
      continue
    }
    for (const {object, path: prefix} of flattenLists(value as Record<string, any>)) {
      objects.push({
        object,
        file,
        lineOf(fieldPath: Path) {
          // Walk up to the nearest field that exists, so a missing field points at its parent.
          for (let length = fieldPath.length; length >= 0; length--) {
            const node = document.getIn([...prefix, ...fieldPath.slice(0, length)], true) as {range?: [number, number, number]} | undefined
            if (node?.range) return lineCounter.linePos(node.range[0]).line
          }
          return 1
        },
        scalarAt(fieldPath: Path) {
          const node = document.getIn([...prefix, ...fieldPath], true) as {range?: [number, number, number]; type?: string} | undefined
          if (!node?.range || typeof (node as {value?: unknown}).value !== 'string') return undefined
          const style = node.type === 'PLAIN' ? 'plain' : node.type === 'QUOTE_DOUBLE' ? 'double' : node.type === 'QUOTE_SINGLE' ? 'single' : 'other'
          return {start: node.range[0], end: node.range[1], style}
        },
      })
    }
  }
  return {objects, errors}
}

/** Read and parse every manifest source; unreadable files and syntax errors are collected, not thrown. */
export function readManifests(inputs: string[], readStdin: () => string): {objects: ManifestObject[]; errors: ManifestReadError[]; texts: Map<string, string>} {
  const {files, errors} = manifestFiles(inputs)
  const objects: ManifestObject[] = []
  const texts = new Map<string, string>()
  for (const file of files) {
    let text: string
    try {
      text = file === '-' ? readStdin() : readFileSync(file, 'utf8')
    } catch (error) {
      errors.push({file, message: `cannot be read: ${describeSystemError(error)}`})
      continue
    }
    texts.set(file === '-' ? '<stdin>' : file, text)
    const parsed = parseManifests(text, file === '-' ? '<stdin>' : file)
    objects.push(...parsed.objects)
    errors.push(...parsed.errors)
  }
  return {objects, errors, texts}
}

import {type Document, LineCounter, parseAllDocuments} from 'yaml'

import {yamlProblem} from '../describe-error.js'
import {fieldName, shapeProblems} from './manifest-shape.js'
import {
  DEFAULT_MAX_FILE_SIZE,
  describeReadError,
  type ManifestReadError,
  manifestFiles,
  readManifestFile,
} from './manifest-sources.js'
import {flattenLists, type Path} from './workloads.js'
import {kubectlYamlParse, MAX_ALIAS_COUNT, withoutOversizedDocuments} from './manifest-yaml.js'

export type {ManifestReadError} from './manifest-sources.js'
export {manifestFiles} from './manifest-sources.js'
export {KUBECTL_YAML_OPTIONS, MAX_ALIAS_COUNT, MAX_DOCUMENT_BYTES, MAX_DOCUMENT_NODES} from './manifest-yaml.js'

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

export interface ParsedManifests {
  objects: ManifestObject[]
  /** Documents or objects that could not be read or have a shape Kubernetes refuses: not audited. */
  errors: ManifestReadError[]
  /** Read as kubectl reads them, but worth knowing (duplicate keys). */
  warnings: ManifestReadError[]
}

/**
 * Parse a multi-document YAML (or JSON, which is YAML) text into objects, flattening `List`s, as
 * kubectl decodes it. A syntax error, an alias bomb or an object of the wrong shape names its line
 * and skips that document or object only.
 */
export function parseManifests(text: string, file: string): ParsedManifests {
  const counter = new LineCounter()
  const result: ParsedManifests = {objects: [], errors: [], warnings: []}
  const {errors, warnings} = result
  const {readable, shifts} = withoutOversizedDocuments(text, file, errors)
  // An offset in what was parsed, as an offset and a line in the file (after a left-out document).
  const shiftAt = (offset: number) => shifts.findLast((shift) => shift.at <= offset)
  const inFile = (offset: number) => offset + (shiftAt(offset)?.delta ?? 0)
  const lineCounter = {
    linePos: (offset: number) => ({line: counter.linePos(offset).line + (shiftAt(offset)?.lines ?? 0)}),
  }
  let documents: Document.Parsed[]
  const {options, duplicates} = kubectlYamlParse()
  try {
    documents = parseAllDocuments(readable, {lineCounter: counter, ...options}) as Document.Parsed[]
  } catch (error) {
    // Nesting thousands deep can overflow the stack in the parser itself, before any document is composed.
    errors.push({
      file,
      message:
        error instanceof RangeError
          ? 'YAML nested too deeply; file not audited'
          : `YAML syntax error: ${yamlProblem({...(error as object), linePos: undefined})}`,
    })
    return result
  }
  if (!Array.isArray(documents)) {
    for (const error of (documents as {errors: Array<{linePos?: Array<{line: number}>}>}).errors)
      errors.push({
        file,
        line: error.linePos?.[0]?.line,
        message: `YAML syntax error: ${yamlProblem({...error, linePos: undefined})}${templateHint(text)}`,
      })
    return result
  }
  for (const document of documents) {
    const documentLine = document.contents?.range ? lineCounter.linePos(document.contents.range[0]).line : undefined
    if (document.errors.length > 0) {
      const error = document.errors[0]
      // The parser's message quotes the line (a Secret's stringData, say): the line number and the kind of problem only.
      const line = lineCounter.linePos(error.pos[0]).line
      // The parser reports a stack overflow (nesting thousands deep) as resource exhaustion.
      if (error.code === 'RESOURCE_EXHAUSTION')
        errors.push({file, line, message: 'YAML document nested too deeply; document not audited'})
      else
        errors.push({file, line, message: `YAML syntax error: ${yamlProblem({code: error.code})}${templateHint(text)}`})
      continue
    }
    let value: unknown
    try {
      value = document.toJS({maxAliasCount: MAX_ALIAS_COUNT})
    } catch (error) {
      errors.push({file, line: documentLine, message: `YAML syntax error: ${yamlProblem(error)}`})
      continue
    }
    if (value === null || value === undefined) continue
    if (typeof value !== 'object' || Array.isArray(value)) {
      errors.push({
        file,
        line: documentLine,
        message: 'not a Kubernetes object (expected a mapping with apiVersion and kind)',
      })
      continue
    }
    const [start, , end] = document.range
    const inDocument = [...duplicates].filter((offset) => offset >= start && offset < end).sort((a, b) => a - b)
    for (const line of inDocument.map((offset) => lineCounter.linePos(offset).line))
      warnings.push({file, line, message: 'duplicate key: the last value is used, as kubectl does'})
    for (const {object, path: prefix} of flattenLists(value as Record<string, any>)) {
      const nodeAt = (fieldPath: Path) =>
        document.getIn([...prefix, ...fieldPath], true) as
          {range?: [number, number, number]; type?: string; value?: unknown} | undefined
      const manifest: ManifestObject = {
        object,
        file,
        lineOf(fieldPath: Path) {
          // Walk up to the nearest field that exists, so a missing field points at its parent.
          for (let length = fieldPath.length; length >= 0; length--) {
            const node = nodeAt(fieldPath.slice(0, length))
            if (node?.range) return lineCounter.linePos(node.range[0]).line
          }
          return 1
        },
        scalarAt(fieldPath: Path) {
          const node = nodeAt(fieldPath)
          if (!node?.range || typeof node.value !== 'string') return undefined
          const style =
            node.type === 'PLAIN'
              ? 'plain'
              : node.type === 'QUOTE_DOUBLE'
                ? 'double'
                : node.type === 'QUOTE_SINGLE'
                  ? 'single'
                  : 'other'
          return {start: inFile(node.range[0]), end: inFile(node.range[1]), style}
        },
      }
      const problems =
        object !== null && typeof object === 'object' && !Array.isArray(object)
          ? shapeProblems(object, (fieldPath) => {
              const range = nodeAt(fieldPath)?.range
              return range && readable.slice(range[0], range[1])
            })
          : [{path: [], message: 'not a Kubernetes object (expected a mapping with apiVersion and kind)'}]
      if (problems.length > 0) {
        for (const problem of problems)
          errors.push({
            file,
            line: manifest.lineOf(problem.path),
            message: `${fieldName(problem.path)}: ${problem.message}`,
          })
        continue
      }
      result.objects.push(manifest)
    }
  }
  return result
}

/** A syntax error in a file with `{{ … }}` is most likely a Helm template that was not rendered. */
function templateHint(text: string): string {
  return /\{\{.*\}\}/.test(text)
    ? ' (the file looks like an unrendered template: render it first, e.g. helm template …)'
    : ''
}

export interface ReadManifestsOptions {
  /** Per-file (and stdin) size limit in bytes. */
  maxFileSize?: number
  /** Reads standard input (for `-`) with the size limit. */
  readStdin: (limit: number) => string
}

/** Read and parse every manifest source; unreadable files, syntax and shape errors are collected, not thrown. */
export function readManifests(
  inputs: string[],
  options: ReadManifestsOptions,
): ParsedManifests & {texts: Map<string, string>} {
  const result: ParsedManifests & {texts: Map<string, string>} = {
    objects: [],
    errors: [],
    warnings: [],
    texts: new Map(),
  }
  for (const {parsed, source} of manifestFilesParsed(inputs, options)) {
    if (source) result.texts.set(source.file, source.text)
    result.objects.push(...parsed.objects)
    result.errors.push(...parsed.errors)
    result.warnings.push(...parsed.warnings)
  }
  return result
}

type ParsedSource = {parsed: ParsedManifests; source?: {file: string; text: string}}

/**
 * The manifest sources one at a time, each as a function that reads and parses it when called. A
 * caller that calls it inside a function of its own holds one file at a time: a variable of a
 * loop (or of this generator) would keep the file before alive while the next is parsed, long
 * enough for the garbage collector to copy its documents into the old generation. A file that
 * cannot be read, and the directory walk's problems, come without a source.
 */
export function* manifestFileReads(inputs: string[], options: ReadManifestsOptions): Generator<() => ParsedSource> {
  const limit = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE
  const {files, errors} = manifestFiles(inputs)
  if (errors.length > 0) yield () => ({parsed: {objects: [], errors, warnings: []}})
  for (const file of files) yield () => readAndParse(file, limit, options)
}

function readAndParse(file: string, limit: number, options: ReadManifestsOptions): ParsedSource {
  const name = file === '-' ? '<stdin>' : file
  let text: string
  try {
    text = file === '-' ? options.readStdin(limit) : readManifestFile(file, limit)
  } catch (error) {
    return {parsed: {objects: [], errors: [{file: name, message: describeReadError(error)}], warnings: []}}
  }
  return {parsed: parseManifests(text, name), source: {file: name, text}}
}

/** Read and parse the manifest sources one at a time, yielding each file's objects. */
export function* manifestFilesParsed(inputs: string[], options: ReadManifestsOptions): Generator<ParsedSource> {
  for (const read of manifestFileReads(inputs, options)) yield read()
}

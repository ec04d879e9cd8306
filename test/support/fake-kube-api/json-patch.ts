// JSON patch (RFC 6902) and JSON merge patch (RFC 7386), as kube-apiserver applies them.

import {clone, deepEqual, isObject, type Json} from './json.js'

/** A patch that cannot be applied; the server turns it into a 422 like the real apiserver does. */
export class PatchError extends Error {}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw new PatchError(`JSON pointer ${JSON.stringify(pointer)} does not start with "/"`)
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'))
}

function arrayIndex(token: string, length: number, allowEnd: boolean, path: string): number {
  if (allowEnd && token === '-') return length
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchError(`Unable to access invalid index: ${token} in ${path}`)
  const index = Number(token)
  if (index > length || (!allowEnd && index === length))
    throw new PatchError(`Unable to access invalid index: ${index}: invalid index referenced`)
  return index
}

function resolveParent(doc: Json, tokens: string[], op: string, path: string): Json {
  let node = doc
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length, false, path)]
    else if (isObject(node) && Object.hasOwn(node, token)) node = node[token]
    else node = undefined
    if (node === undefined || node === null)
      throw new PatchError(`${op} operation does not apply: doc is missing path: "${path}": missing value`)
  }
  if (!Array.isArray(node) && !isObject(node))
    throw new PatchError(`${op} operation does not apply: doc is missing path: "${path}": missing value`)
  return node
}

function getAt(doc: Json, path: string, op: string): Json {
  let node = doc
  for (const token of parsePointer(path)) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length, false, path)]
    else if (isObject(node) && Object.hasOwn(node, token)) node = node[token]
    else throw new PatchError(`${op} operation does not apply: doc is missing path: "${path}": missing value`)
  }
  return node
}

function addAt(doc: Json, path: string, value: Json, op = 'add'): Json {
  const tokens = parsePointer(path)
  if (tokens.length === 0) return clone(value)
  const parent = resolveParent(doc, tokens, op, path)
  const last = tokens.at(-1)!
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, path), 0, clone(value))
  else parent[last] = clone(value)
  return doc
}

function removeAt(doc: Json, path: string, op = 'remove'): Json {
  const tokens = parsePointer(path)
  if (tokens.length === 0) throw new PatchError(`${op} operation does not apply: cannot remove the whole document`)
  const parent = resolveParent(doc, tokens, op, path)
  const last = tokens.at(-1)!
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false, path), 1)
  else if (Object.hasOwn(parent, last)) delete parent[last]
  else throw new PatchError(`${op} operation does not apply: doc is missing key: ${path}: missing value`)
  return doc
}

export function applyJsonPatch(original: Json, operations: unknown): Json {
  if (!Array.isArray(operations))
    throw new PatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch')
  let doc = clone(original)
  for (const operation of operations) {
    if (!isObject(operation)) throw new PatchError('json: cannot unmarshal into Go value of type jsonpatch.Operation')
    const {op, path, from, value} = operation
    if (typeof path !== 'string') throw new PatchError(`${op} operation does not apply: missing path`)
    if (['add', 'replace', 'test'].includes(op) && !Object.hasOwn(operation, 'value')) {
      throw new PatchError(`${op} operation does not apply: missing value`)
    }
    switch (op) {
      case 'add':
        doc = addAt(doc, path, value)
        break
      case 'remove':
        doc = removeAt(doc, path)
        break
      case 'replace':
        getAt(doc, path, 'replace')
        if (path === '') doc = clone(value)
        else doc = addAt(removeAt(doc, path, 'replace'), path, value, 'replace')
        break
      case 'move': {
        if (typeof from !== 'string') throw new PatchError('move operation does not apply: missing from')
        if (path.startsWith(from + '/'))
          throw new PatchError(`move operation does not apply: cannot move ${from} into its own child ${path}`)
        const moved = getAt(doc, from, 'move')
        doc = addAt(removeAt(doc, from, 'move'), path, moved, 'move')
        break
      }
      case 'copy': {
        if (typeof from !== 'string') throw new PatchError('copy operation does not apply: missing from')
        doc = addAt(doc, path, getAt(doc, from, 'copy'), 'copy')
        break
      }
      case 'test': {
        let actual: Json
        try {
          actual = getAt(doc, path, 'test')
        } catch {
          throw new PatchError(`testing value ${path} failed: test failed`)
        }
        if (!deepEqual(actual, value)) throw new PatchError(`testing value ${path} failed: test failed`)
        break
      }
      default:
        throw new PatchError(`Unexpected kind: ${String(op)}`)
    }
  }
  return doc
}

// ---------------------------------------------------------------- RFC 7386

export function applyMergePatch(original: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch)
  const result: Record<string, Json> = isObject(original) ? clone(original) : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = applyMergePatch(result[key], value)
  }
  return result
}

// Label and field selectors: parsed and matched as kube-apiserver does.

import {isObject, type Json} from './json.js'

/** A selector that cannot be parsed; the server turns it into a 400. */
export class SelectorError extends Error {}

export type Requirement = {key: string; op: 'in' | 'notin'; values: string[]} | {key: string; op: 'exists' | '!exists'}

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

function checkKey(key: string): string {
  if (!LABEL_KEY.test(key)) throw new SelectorError(`unable to parse requirement: invalid label key "${key}"`)
  return key
}

function checkValue(value: string): string {
  if (!LABEL_VALUE.test(value) || value.length > 63)
    throw new SelectorError(`unable to parse requirement: invalid label value: "${value}"`)
  return value
}

/** Splits on commas that are not inside `( … )`. */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = []
  let depth = 0
  let current = ''
  for (const ch of selector) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      parts.push(current)
      current = ''
    } else current += ch
  }
  parts.push(current)
  return parts.map((p) => p.trim())
}

export function parseLabelSelector(selector: string | undefined): Requirement[] {
  if (!selector || selector.trim() === '') return []
  return splitTopLevel(selector).map((part): Requirement => {
    if (part === '') throw new SelectorError(`found '', expected: identifier`)
    let m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(part)
    if (m) {
      const values = m[3].split(',').map((v) => checkValue(v.trim()))
      return {key: checkKey(m[1]), op: m[2] as 'in' | 'notin', values}
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part)
    if (m) {
      return {key: checkKey(m[1]), op: m[2] === '!=' ? 'notin' : 'in', values: [checkValue(m[3])]}
    }
    m = /^!\s*(\S+)$/.exec(part)
    if (m) return {key: checkKey(m[1]), op: '!exists'}
    if (/^\S+$/.test(part)) return {key: checkKey(part), op: 'exists'}
    throw new SelectorError(`unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=`)
  })
}

export function matchesLabels(requirements: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {}
  return requirements.every((r) => {
    const has = Object.hasOwn(l, r.key)
    switch (r.op) {
      case 'exists':
        return has
      case '!exists':
        return !has
      case 'in':
        return has && r.values.includes(l[r.key])
      case 'notin':
        return !has || !r.values.includes(l[r.key])
    }
  })
}

// ---------------------------------------------------------------- field selectors

export interface FieldRequirement {
  field: string
  equal: boolean
  value: string
}

export function parseFieldSelector(selector: string | undefined, supported: string[]): FieldRequirement[] {
  if (!selector || selector.trim() === '') return []
  return selector.split(',').map((part) => {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part)
    if (!m) throw new SelectorError(`invalid selector: '${selector}'; can't understand '${part}'`)
    if (!supported.includes(m[1])) throw new SelectorError(`field label not supported: ${m[1]}`)
    return {field: m[1], equal: m[2] !== '!=', value: m[3]}
  })
}

export function fieldValue(obj: Json, field: string): string {
  let node = obj
  for (const part of field.split('.')) node = isObject(node) ? node[part] : undefined
  return node === undefined || node === null ? '' : String(node)
}

export function matchesFields(requirements: FieldRequirement[], obj: Json): boolean {
  return requirements.every((r) => (fieldValue(obj, r.field) === r.value) === r.equal)
}

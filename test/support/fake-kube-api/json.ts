// Plain-JSON helpers shared by the fake API server's modules.

export type Json = any
export type Obj = Record<string, any>

export function clone<T>(value: T): T {
  return value === undefined ? value : structuredClone(value)
}

export function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]))
  }
  if (isObject(a) && isObject(b)) {
    const ak = Object.keys(a).filter((k) => a[k] !== undefined)
    const bk = Object.keys(b).filter((k) => b[k] !== undefined)
    return ak.length === bk.length && ak.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
  }
  return false
}

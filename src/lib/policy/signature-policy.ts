// The policy's `requireSignature`: which repositories need a signature by which trusted keys.
//
//   requireSignature:
//   - repositories: [registry.example.com/team, "*.corp.example"]   # as allowedRegistries
//     keys: [cosign.pub]                                             # PEM files, relative to the policy file
//
// The keys are read when the policy is loaded, so a missing or wrong key is a file:line error at
// once, never a refusal of every pod later.
import path from 'node:path'

import type {ImageReference} from '../image/image-reference.js'
import {readTrustedKey, type TrustedKey} from '../signature/trusted-keys.js'
import {UserError} from '../errors.js'
import {registryMatches, registryPatternProblem} from './policy.js'

export interface SignatureRequirement {
  /** Registry patterns, as in allowedRegistries: host, host:port, host/path prefix, *.domain. */
  repositories: string[]
  keys: TrustedKey[]
}

const SHAPE = 'must be a list of {repositories: [pattern, …], keys: [file, …]}'

/** Parse `requireSignature`, reporting each problem through `problem(path, text)`. */
export function parseSignatureRequirements(
  value: unknown,
  problem: (path: Array<string | number>, text: string) => void,
  baseDir: string,
): SignatureRequirement[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) {
    problem(['requireSignature'], SHAPE)
    return undefined
  }
  return value.flatMap((entry: unknown, index: number): SignatureRequirement[] => {
    const at = ['requireSignature', index]
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      problem(at, 'must be a mapping {repositories: [pattern, …], keys: [file, …]}')
      return []
    }
    const fields = entry as Record<string, unknown>
    let ok = true
    for (const key of Object.keys(fields)) {
      if (key !== 'repositories' && key !== 'keys') {
        problem([...at, key], 'unknown field; known: repositories, keys')
        ok = false
      }
    }
    const list = (key: 'repositories' | 'keys'): string[] => {
      const items = fields[key]
      if (!Array.isArray(items) || items.length === 0) {
        const what = `a non-empty list of ${key === 'keys' ? 'public key files' : 'registry patterns'}`
        // A missing field has no line of its own: the entry's line is named.
        if (items === undefined) problem(at, `needs "${key}": ${what}`)
        else problem([...at, key], `must be ${what}`)
        ok = false
        return []
      }
      return items.filter((item, itemIndex) => {
        if (typeof item === 'string' && item !== '') return true
        problem([...at, key, itemIndex], 'must be a non-empty string')
        ok = false
        return false
      }) as string[]
    }
    const repositories = list('repositories')
    repositories.forEach((pattern, itemIndex) => {
      const text = registryPatternProblem(pattern)
      if (text) {
        problem([...at, 'repositories', itemIndex], text)
        ok = false
      }
    })
    const keys = list('keys').flatMap((file, itemIndex) => {
      try {
        return [readTrustedKey(path.resolve(baseDir, file), 'key')]
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        problem([...at, 'keys', itemIndex], error.message)
        ok = false
        return []
      }
    })
    return ok ? [{repositories, keys}] : []
  })
}

/** The keys that must have signed `ref`: the first requirement whose repositories match it. Pure. */
export function signatureRequirementFor(
  requirements: readonly SignatureRequirement[] | undefined,
  ref: ImageReference,
): SignatureRequirement | undefined {
  return requirements?.find((requirement) => requirement.repositories.some((pattern) => registryMatches(pattern, ref)))
}

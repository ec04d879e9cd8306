// The policy's `requireSignature`: which repositories need a signature by which trusted keys or
// keyless identities (a signature by any of them counts).
//
//   requireSignature:
//   - repositories: [registry.example.com/team, "*.corp.example"]   # as allowedRegistries
//     keys: [cosign.pub]                                             # PEM files, relative to the policy file
//     keyless:                                                       # as policy-controller's ClusterImagePolicy
//       trustedRoot: trusted_root.json                               # Sigstore's TrustedRoot JSON, offline
//       identities:
//       - {issuer: https://token.actions.githubusercontent.com, subjectRegExp: ^https://github\.com/org/}
//
// Keys and trusted roots are read when the policy is loaded, so a missing or wrong file is a
// file:line error at once, never a refusal of every pod later.
import path from 'node:path'

import type {ImageReference} from '../image/image-reference.js'
import {type CertificateIdentity, identityProblem, type KeylessTrust} from '../signature/identity.js'
import {readTrustedKey, type TrustedKey} from '../signature/trusted-keys.js'
import {readTrustedRoot} from '../signature/trusted-root.js'
import {UserError} from '../errors.js'
import {registryMatches, registryPatternProblem} from './policy.js'

export interface SignatureRequirement {
  /** Registry patterns, as in allowedRegistries: host, host:port, host/path prefix, *.domain. */
  repositories: string[]
  keys: TrustedKey[]
  keyless?: KeylessTrust
}

const SHAPE =
  'must be a list of {repositories: [pattern, …], keys: [file, …] and/or keyless: {trustedRoot, identities}}'
const IDENTITY_FIELDS = ['issuer', 'issuerRegExp', 'subject', 'subjectRegExp'] as const

type Problem = (path: Array<string | number>, text: string) => void

/** Parse one entry's `keyless`; undefined (after reporting) when it is wrong. */
function parseKeyless(
  value: unknown,
  at: Array<string | number>,
  problem: Problem,
  baseDir: string,
): KeylessTrust | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    problem(at, 'must be a mapping {trustedRoot: file, identities: [{issuer|issuerRegExp, subject|subjectRegExp}, …]}')
    return undefined
  }
  const fields = value as Record<string, unknown>
  let ok = true
  for (const key of Object.keys(fields))
    if (key !== 'trustedRoot' && key !== 'identities') {
      problem([...at, key], 'unknown field; known: trustedRoot, identities')
      ok = false
    }
  let root: KeylessTrust['root'] | undefined
  if (typeof fields.trustedRoot !== 'string' || fields.trustedRoot === '') {
    const what = "Sigstore's trusted_root.json (a file, relative to the policy file)"
    if (fields.trustedRoot === undefined) problem(at, `needs "trustedRoot": ${what}`)
    else problem([...at, 'trustedRoot'], `must be ${what}`)
    ok = false
  } else
    try {
      root = readTrustedRoot(path.resolve(baseDir, fields.trustedRoot), 'trustedRoot')
    } catch (error) {
      if (!(error instanceof UserError)) throw error
      problem([...at, 'trustedRoot'], error.message)
      ok = false
    }
  const items = fields.identities
  if (!Array.isArray(items) || items.length === 0) {
    const what = 'a non-empty list of {issuer|issuerRegExp, subject|subjectRegExp}'
    if (items === undefined) problem(at, `needs "identities": ${what}`)
    else problem([...at, 'identities'], `must be ${what}`)
    return undefined
  }
  const identities = items.flatMap((item: unknown, index: number): CertificateIdentity[] => {
    const where = [...at, 'identities', index]
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      problem(where, 'must be a mapping {issuer|issuerRegExp, subject|subjectRegExp}')
      ok = false
      return []
    }
    const identity: CertificateIdentity = {}
    for (const [key, field] of Object.entries(item as Record<string, unknown>)) {
      if (!(IDENTITY_FIELDS as readonly string[]).includes(key)) {
        problem([...where, key], `unknown field; known: ${IDENTITY_FIELDS.join(', ')}`)
        ok = false
      } else if (typeof field !== 'string') {
        problem([...where, key], 'must be a string')
        ok = false
      } else identity[key as (typeof IDENTITY_FIELDS)[number]] = field
    }
    const text = identityProblem(identity)
    if (text) {
      problem(where, text)
      ok = false
    }
    return [identity]
  })
  return ok && root ? {root, identities} : undefined
}

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
      if (key !== 'repositories' && key !== 'keys' && key !== 'keyless') {
        problem([...at, key], 'unknown field; known: repositories, keys, keyless')
        ok = false
      }
    }
    const list = (key: 'repositories' | 'keys'): string[] => {
      const items = fields[key]
      if (!Array.isArray(items) || items.length === 0) {
        const what =
          key === 'keys'
            ? 'a non-empty list of public key files (or keyless: {trustedRoot, identities})'
            : 'a non-empty list of registry patterns'
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
    const keyless =
      fields.keyless === undefined ? undefined : parseKeyless(fields.keyless, [...at, 'keyless'], problem, baseDir)
    if (fields.keyless !== undefined && !keyless) ok = false
    // With keyless identities, keys are optional.
    const keyFiles = fields.keyless !== undefined && fields.keys === undefined ? [] : list('keys')
    const keys = keyFiles.flatMap((file, itemIndex) => {
      try {
        return [readTrustedKey(path.resolve(baseDir, file), 'key')]
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        problem([...at, 'keys', itemIndex], error.message)
        ok = false
        return []
      }
    })
    return ok ? [{repositories, keys, ...(keyless ? {keyless} : {})}] : []
  })
}

/** The keys or identities that must have signed `ref`: the first requirement whose repositories match it. Pure. */
export function signatureRequirementFor(
  requirements: readonly SignatureRequirement[] | undefined,
  ref: ImageReference,
): SignatureRequirement | undefined {
  return requirements?.find((requirement) => requirement.repositories.some((pattern) => registryMatches(pattern, ref)))
}

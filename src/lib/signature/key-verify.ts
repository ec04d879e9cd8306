// A signature judged with a trusted public key alone, by Sigstore's verifier (loaded only where
// signatures are verified; reading keys needs node's crypto only).
import type {KeyObject} from 'node:crypto'

import {toTrustMaterial, Verifier, type toSignedEntity} from '@sigstore/verify'

// No transparency log, certificate log or timestamp is required of a key-based signature: cosign
// signs with --tlog-upload=false for air-gapped registries, and the key alone is the trust.
const KEY_ONLY = {tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0}
const EMPTY_ROOT = {
  certificateAuthorities: [],
  timestampAuthorities: [],
  tlogs: [],
  ctlogs: [],
} as unknown as Parameters<typeof toTrustMaterial>[0]

/**
 * True when Sigstore's verifier accepts `entity` with `publicKey` alone. With `hint`, only a
 * signature naming that key hint is tried (a bundle's own hint is the signer's label: without it,
 * the key is tried whatever the hint says).
 */
export function verifiesWithKey(
  entity: ReturnType<typeof toSignedEntity>,
  publicKey: KeyObject,
  hint?: string,
): boolean {
  const trust = toTrustMaterial(EMPTY_ROOT, (given) => {
    if (hint !== undefined && given !== hint) throw new Error('unknown key')
    return {publicKey, validFor: () => true}
  })
  try {
    new Verifier(trust, KEY_ONLY).verify(entity)
    return true
  } catch {
    return false
  }
}

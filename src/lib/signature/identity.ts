// Keyless identities as a policy names them (sigstore policy-controller's and cosign's names):
// which subject signed and which OIDC issuer vouched for it. Pure, and light: reading a policy
// needs this, not the certificate and Sigstore libraries keyless.ts loads to verify.
import type {TrustedRootFile} from './trusted-root.js'

export interface CertificateIdentity {
  issuer?: string
  issuerRegExp?: string
  subject?: string
  subjectRegExp?: string
}

export interface KeylessTrust {
  root: TrustedRootFile
  identities: CertificateIdentity[]
}

/** Why an identity is not usable, or undefined. Pure. */
export function identityProblem(identity: CertificateIdentity): string | undefined {
  const pair = (exact: 'issuer' | 'subject', regexp: 'issuerRegExp' | 'subjectRegExp') => {
    if (identity[exact] !== undefined && identity[regexp] !== undefined) return `give ${exact} or ${regexp}, not both`
    const value = identity[exact] ?? identity[regexp]
    if (value === undefined) return `needs ${exact} (exact) or ${regexp}`
    if (value === '') return `${identity[exact] !== undefined ? exact : regexp} must not be empty`
    if (identity[regexp] !== undefined) {
      try {
        new RegExp(value, 'u')
      } catch {
        return `${regexp} is not a valid regular expression`
      }
    }
    return undefined
  }
  return pair('subject', 'subjectRegExp') ?? pair('issuer', 'issuerRegExp')
}

/** `subject dev@example.com, issuer https://…` or `subject ~ /…/`. Pure. */
export function describeIdentity(identity: CertificateIdentity): string {
  const part = (name: string, exact?: string, regexp?: string) =>
    exact !== undefined ? `${name} ${exact}` : `${name} ~ /${regexp}/`
  return `${part('subject', identity.subject, identity.subjectRegExp)}, ${part('issuer', identity.issuer, identity.issuerRegExp)}`
}

/**
 * The subject of `subjects` that `identity` accepts with `issuer`, or undefined. Regular
 * expressions search, unanchored, as cosign's and policy-controller's do: anchor them (^…$). Pure.
 */
export function matchIdentity(
  identity: CertificateIdentity,
  subjects: readonly string[],
  issuer: string | undefined,
): string | undefined {
  if (issuer === undefined) return undefined
  const issuerOk =
    identity.issuer !== undefined ? identity.issuer === issuer : new RegExp(identity.issuerRegExp!, 'u').test(issuer)
  if (!issuerOk) return undefined
  return subjects.find((subject) =>
    identity.subject !== undefined
      ? identity.subject === subject
      : new RegExp(identity.subjectRegExp!, 'u').test(subject),
  )
}

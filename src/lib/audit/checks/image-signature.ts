import type {SignatureVerdict} from '../../signature/verify.js'
import {scanTargetOf} from './image-vulnerable.js'
import {checkHelpUri, type ContainerInstance, type CrossWorkloadCheck, type RunContext} from './types.js'

// Needs `--verify-signatures` and a policy with requireSignature: the run verifies each distinct
// image once, before the checks; these checks only read the verdicts.
function findingsFor(
  status: SignatureVerdict['status'],
  message: (verdict: SignatureVerdict) => string,
): (containers: readonly ContainerInstance[], context: RunContext) => ReturnType<CrossWorkloadCheck['run']> {
  return (containers, {signatures}) => {
    if (!signatures) return []
    const seen = new Set<string>()
    return containers.flatMap((instance) => {
      const verdict = instance.image ? signatures.get(scanTargetOf(instance)) : undefined
      if (verdict?.status !== status) return []
      // Replicas of a workload run the same container: one finding per workload container and image.
      const {kind, namespace, name} = instance.workload
      const key = `${kind}/${namespace ?? ''}/${name}/${instance.container}/${verdict.image}`
      if (seen.has(key)) return []
      seen.add(key)
      return [{instance, result: message(verdict)}]
    })
  }
}

export const imageSignatureMissing: CrossWorkloadCheck = {
  id: 'image-signature-missing',
  kind: 'cross-workload',
  severity: 'high',
  title: 'Image is not signed',
  description:
    "The policy's requireSignature covers this image's repository, but the registry holds no cosign signature for the digest it runs: nothing says who built it.",
  helpUri: checkHelpUri('image-signature-missing'),
  fix: 'Sign the image by digest in the release pipeline (`cosign sign --key cosign.key IMAGE@sha256:…`), or run a signed one.',
  run: findingsFor('missing', (verdict) => `${verdict.image} has no signature (requireSignature)`),
}

export const imageSignatureInvalid: CrossWorkloadCheck = {
  id: 'image-signature-invalid',
  kind: 'cross-workload',
  severity: 'critical',
  title: 'Image signature is not valid',
  description:
    "The image carries signatures, but none is by a trusted key or keyless identity over this image's digest and repository: signed by another key or identity, tampered with, or copied from another image.",
  helpUri: checkHelpUri('image-signature-invalid'),
  fix: 'Find out who pushed this digest; re-sign the image with a trusted key or identity (`cosign sign`), or correct the keys or keyless identities in requireSignature.',
  run: findingsFor('invalid', (verdict) => `${verdict.image}: ${verdict.reasons.join('; ')}`),
}

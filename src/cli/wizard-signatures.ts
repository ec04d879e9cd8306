// The whitelist flow's optional signature step (ImagePolicyWebhook only: a ValidatingAdmissionPolicy
// is CEL, which cannot fetch or verify signatures). It asks which repositories need a cosign
// signature, the trusted public key and, for private registries, a docker config, each checked as
// `whitelist enable` checks it, and returns what enable needs: `--require-signature --trusted-key`
// when the repositories are the allowed registries (what that flag covers), otherwise a policy file
// with requireSignature, written only once the user confirms.
import {randomBytes} from 'node:crypto'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {stringify} from 'yaml'

import {splitCommaList} from '../lib/comma-list.js'
import {isUserError} from '../lib/errors.js'
import {readDockerConfigFile} from '../lib/image/docker-config.js'
import {POLICY_API_VERSION, POLICY_KIND} from '../lib/policy/policy-file.js'
import {readTrustedKey} from '../lib/signature/trusted-keys.js'
import {type Prompter, registryListProblem, type WizardFile} from './wizard-common.js'

export interface SignatureStep {
  /** Added to `whitelist enable`'s argv. */
  argv: string[]
  summary: string[]
  files: WizardFile[]
}

/** A check's UserError as the one line a prompt shows (true when it passes); other errors are bugs. */
function problemOf(check: () => void): true | string {
  try {
    check()
    return true
  } catch (error) {
    if (isUserError(error)) return error.message
    throw error
  }
}

/** The trusted key, read as the policy reads it: the message names the file, never its content. */
export function trustedKeyProblem(file: string): true | string {
  if (file.trim() === '') return 'the public key file is required (cosign.pub, from cosign generate-key-pair)'
  return problemOf(() => readTrustedKey(file, 'the key file'))
}

/** The docker config, read as `whitelist enable --docker-config` reads it (empty: none). */
export function dockerConfigProblem(file: string): true | string {
  if (file.trim() === '') return true
  return problemOf(() => readDockerConfigFile(file, 'the docker config'))
}

/** The policy file's text: only requireSignature (--allowed-registries on the command line gives the allowlist). */
export function signaturePolicyText(repositories: string[], key: string): string {
  return [
    '# Written by "kubectl imgsec" (the wizard) for "whitelist enable --policy": images from these',
    '# repositories are admitted only when signed by the key. --allowed-registries gives the allowlist.',
    stringify({apiVersion: POLICY_API_VERSION, kind: POLICY_KIND, requireSignature: [{repositories, keys: [key]}]}),
  ].join('\n')
}

/** Ask the signature questions; `registries` are the allowed registries just given. */
export async function signatureStep(
  prompt: Prompter,
  registries: string[],
  fileDir: string = tmpdir(),
): Promise<SignatureStep> {
  const wanted = await prompt.confirm({
    message: 'Require cosign signatures for images from some repositories?',
    default: false,
  })
  if (!wanted) return {argv: [], summary: ['image signatures: not required'], files: []}
  const repositories = splitCommaList(
    await prompt.input({
      message: 'Repositories whose images must be signed (comma-separated registry patterns)',
      default: registries.join(','),
      validate: registryListProblem,
    }),
  )
  const key = path.resolve(
    await prompt.input({
      message: 'Trusted public key file (cosign.pub)',
      default: 'cosign.pub',
      validate: trustedKeyProblem,
    }),
  )
  const dockerConfig = await prompt.input({
    message: 'Docker config file with the credentials to read signatures from private registries (empty for none)',
    default: '',
    validate: dockerConfigProblem,
  })
  const argv: string[] = []
  const files: WizardFile[] = []
  const summary: string[] = []
  const sameAsAllowlist =
    repositories.length === registries.length && repositories.every((repository) => registries.includes(repository))
  if (sameAsAllowlist) {
    // What --require-signature covers: no file needed, the command line says it all.
    argv.push('--require-signature', '--trusted-key', key)
    summary.push(`image signatures: required for every allowed registry, by the key ${key}`)
  } else {
    const policy = path.join(fileDir, `kubectl-imgsec-wizard-${randomBytes(6).toString('hex')}`, 'policy.yaml')
    files.push({path: policy, content: signaturePolicyText(repositories, key)})
    argv.push('--policy', policy)
    summary.push(
      `image signatures: required for ${repositories.join(', ')}, by the key ${key}`,
      `policy file ${policy} (requireSignature; written 0600 when you confirm)`,
    )
  }
  if (dockerConfig.trim() !== '') {
    const file = path.resolve(dockerConfig)
    argv.push('--docker-config', file)
    summary.push(`registry credentials for the backend: ${file} (copied 0600, never printed)`)
  }
  return {argv, summary, files}
}

// Registry credentials for the backend that `whitelist enable` sets up (`--docker-config FILE`): the
// backend reads signatures from the registries requireSignature covers, which may not allow
// anonymous pulls. The file's text is read once, checked, and handed to the placement at apply
// time only: it is never part of the plan, so `--dry-run=client` cannot print it, and every message
// names the flag and the file, never what is in it.
import {readFileSync} from 'node:fs'

import {unreadableFile} from '../describe-error.js'
import {UserError} from '../errors.js'
import {credentialsOf, parseDockerConfigJson} from '../image/docker-config.js'
import type {ImagePolicy} from '../policy/policy.js'

/** What the plan knows of the credentials: where they come from, never their content. */
export interface RegistryCredentialsSource {
  /** How messages name them: `--docker-config "FILE"`. */
  source: string
}

/** The credentials read for one run: the plan's part, and the text the placement installs. */
export interface RegistryCredentials extends RegistryCredentialsSource {
  /** The docker config.json text; only ever written to a 0600 file or a Secret. */
  text: string
}

/** What --dry-run prints in place of the credentials. */
export function credentialsPlaceholder(credentials: RegistryCredentialsSource): string {
  return `<registry credentials from ${credentials.source}: not printed>\n`
}

/**
 * Read and check `--docker-config FILE` (a docker config.json with at least one username and
 * password). It only makes sense with requireSignature: the backend pulls nothing else.
 */
export function readRegistryCredentials(
  dockerConfig: string | undefined,
  policy: Pick<ImagePolicy, 'requireSignature'>,
): RegistryCredentials | undefined {
  if (dockerConfig === undefined) return undefined
  if (!policy.requireSignature)
    throw new UserError(
      '--docker-config gives the backend registry credentials to read signatures: it goes with --require-signature --trusted-key KEY, or a --policy file with requireSignature',
    )
  const source = `--docker-config "${dockerConfig}"`
  let text: string
  try {
    text = readFileSync(dockerConfig, 'utf8')
  } catch (error) {
    throw new UserError(unreadableFile('--docker-config', `"${dockerConfig}"`, error))
  }
  // Both name the source in their errors and never quote the file.
  credentialsOf(parseDockerConfigJson(text, source), source)
  return {source, text}
}

import {describeSystemError, errorCode, safeErrorMessage} from '../describe-error.js'
import {UserError} from '../errors.js'
import type {ResolvedKubeconfig} from './kubeconfig.js'

/** The kubeconfig user a request authenticates as: its name and credential plugin, if any. */
export interface KubeUser {
  name: string
  exec?: {command?: string; [key: string]: unknown}
}

/**
 * Credentials and certificates are read per request (files named by the kubeconfig, an exec
 * plugin's answer). Their failures carry raw codes or quote what they read (JSON.parse of the
 * plugin's output, which holds a token): one line that names the user and the file or plugin,
 * never the content.
 */
export function describeCredentialError(error: unknown, user: KubeUser, config: ResolvedKubeconfig): UserError {
  if (error instanceof UserError) return error
  const who = `user "${config.userName ?? user.name}" of context "${config.contextName ?? ''}"`
  const exec = user.exec
  const failure = error as {syscall?: unknown; path?: unknown}
  if (exec?.command) {
    const plugin = `the credential plugin "${exec.command}" of ${who}`
    if (typeof failure.syscall === 'string' && failure.syscall.startsWith('spawn')) {
      return new UserError(
        `${plugin} cannot be run: ${describeSystemError(error)}${errorCode(error) === 'ENOENT' ? ' (is it installed and on PATH?)' : ''}`,
      )
    }
    if (error instanceof SyntaxError)
      return new UserError(
        `${plugin} printed something that is not an ExecCredential in JSON; run it by hand to see what it prints`,
      )
    // client-node rejects with the plugin's stderr as the message when it exits non-zero: not repeated here.
    if (error instanceof Error && error.constructor === Error)
      return new UserError(`${plugin} failed (it exited with an error); run it by hand to see why`)
    return new UserError(
      `${plugin} gave no usable credential (an ExecCredential with status.token or a client certificate)`,
    )
  }
  if (typeof failure.path === 'string' && errorCode(error)) {
    return new UserError(
      `${failure.path}, named in the kubeconfig for ${who} or its cluster, cannot be read: ${describeSystemError(error)}`,
    )
  }
  return new UserError(`the credentials of ${who} could not be obtained: ${safeErrorMessage(error)}`)
}

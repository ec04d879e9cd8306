import {RegistryEditCommand} from '../../cli/registry-edit-command.js'

export default class WhitelistRemoveRegistry extends RegistryEditCommand {
  static override summary = "Stop allowing a registry: edits the backend's policy in place; the backend reloads it."

  static override description =
    "The registry also leaves the policy's requireSignature, so that adding it back later requires signatures only as add-registry decides then."

  static override examples = [
    {description: 'Stop allowing a registry', command: 'kubectl imgsec whitelist remove-registry quay.io'},
  ]

  // oclif reads args and flags from each command class itself.
  static override args = RegistryEditCommand.registryArgs

  static override flags = RegistryEditCommand.registryFlags

  protected readonly operation = 'remove'
}

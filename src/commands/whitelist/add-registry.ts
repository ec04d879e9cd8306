import {RegistryEditCommand} from '../../cli/registry-edit-command.js'

export default class WhitelistAddRegistry extends RegistryEditCommand {
  static override summary = "Allow one more registry: edits the backend's policy in place; the backend reloads it."

  static override examples = [
    {
      description: 'Allow a private registry',
      command: 'kubectl imgsec whitelist add-registry myprivateregistry.com:5000',
    },
  ]

  // oclif reads args and flags from each command class itself.
  static override args = RegistryEditCommand.registryArgs

  static override flags = RegistryEditCommand.registryFlags

  protected readonly operation = 'add'
}

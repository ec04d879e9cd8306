import {Flags} from '@oclif/core'

import {RegistryEditCommand} from '../../cli/registry-edit-command.js'

export default class WhitelistAddRegistry extends RegistryEditCommand {
  static override summary = "Allow one more registry: edits the backend's policy in place; the backend reloads it."

  static override description =
    'When the whitelist requires signatures for all its registries (whitelist enable --require-signature), the added registry requires them too, with the same keys, unless --no-require-signature is given.'

  static override examples = [
    {
      description: 'Allow a private registry',
      command: 'kubectl imgsec whitelist add-registry myprivateregistry.com:5000',
    },
  ]

  // oclif reads args and flags from each command class itself.
  static override args = RegistryEditCommand.registryArgs

  static override flags = {
    ...RegistryEditCommand.registryFlags,
    'require-signature': Flags.boolean({
      description:
        "Require signatures for this registry's images with the keys that cover the other registries (the default when they all require them); --no-require-signature: allow its images unsigned.",
      allowNo: true,
    }),
  }

  protected readonly operation = 'add'
}

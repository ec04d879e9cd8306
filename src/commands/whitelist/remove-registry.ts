import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {debugFlag} from '../../lib/flags.js'
import {DEFAULT_CONFIG_DIR} from '../../lib/whitelist.js'

export default class WhitelistRemoveRegistry extends BaseCommand {
  static override summary = 'Stop allowing a registry: edits the backend\'s policy in place; the backend reloads it.'

  static override examples = [{description: 'Stop allowing a registry', command: 'kubectl imgsec whitelist remove-registry quay.io'}]

  static override args = {registry: Args.string({description: 'host, host:port, host/path prefix or *.domain', required: true})}

  static override flags = {
    'config-dir': Flags.string({description: 'The directory "whitelist enable" used.', default: DEFAULT_CONFIG_DIR}),
    debug: debugFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(WhitelistRemoveRegistry)
    const {editAllowedRegistries} = await import('../../lib/whitelist.js')
    const result = await editAllowedRegistries({configDir: flags['config-dir'], remove: args.registry, timeoutMs: 15_000})
    if (!result.changed) {
      process.stdout.write(`${args.registry} was not allowed: nothing changed\n`)
      return
    }
    process.stdout.write(`allowed registries: ${result.allowedRegistries.join(', ')}\n`)
    process.stdout.write(result.confirmed ? 'the backend reloaded the policy\n' : 'warning: the backend did not confirm the new policy yet; check "kubectl imgsec whitelist status"\n')
  }
}

// The commands by id, for oclif's "explicit" command strategy: a single-file bundle (npm run
// package) cannot discover command files in a directory.
import AuditImages from './commands/audit/images.js'
import CreateRegcred from './commands/create-regcred.js'
import PatchApiserver from './commands/patch-apiserver.js'
import Verify from './commands/verify.js'
import WebhookServe from './commands/webhook/serve.js'
import WhitelistAddRegistry from './commands/whitelist/add-registry.js'
import WhitelistDisable from './commands/whitelist/disable.js'
import WhitelistEnable from './commands/whitelist/enable.js'
import WhitelistRemoveRegistry from './commands/whitelist/remove-registry.js'
import WhitelistRotateCerts from './commands/whitelist/rotate-certs.js'
import WhitelistStatus from './commands/whitelist/status.js'
import Wizard from './commands/wizard.js'
import {checkNodeVersion} from './cli/node-version.js'

export const COMMANDS = {
  'audit:images': AuditImages,
  'create-regcred': CreateRegcred,
  'patch-apiserver': PatchApiserver,
  verify: Verify,
  'webhook:serve': WebhookServe,
  'whitelist:add-registry': WhitelistAddRegistry,
  'whitelist:disable': WhitelistDisable,
  'whitelist:enable': WhitelistEnable,
  'whitelist:remove-registry': WhitelistRemoveRegistry,
  'whitelist:rotate-certs': WhitelistRotateCerts,
  'whitelist:status': WhitelistStatus,
  wizard: Wizard,
}

/** Entry of the bundle: run the CLI with oclif, from the directory that holds the bundle. */
export async function run(argv = process.argv.slice(2), dir = import.meta.url): Promise<void> {
  checkNodeVersion()
  const {execute} = await import('@oclif/core')
  await execute({args: argv, dir})
}

import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {configDirFlag, debugFlag} from '../../cli/flags.js'

export default class WhitelistRotateCerts extends BaseCommand {
  static override summary =
    "Renew the backend's serving certificate and the API server's client certificate (same CA), with no restart and no window."

  static override description = `Run it as root on the control-plane node (static placement), before "whitelist status" shows fewer than 30 days left. The backend swaps in its new serving certificate as soon as the files change; kube-apiserver and the backend both trust the CA, not one certificate, so there is no moment where they disagree.`

  static override examples = [
    {description: 'Renew for another 825 days', command: 'kubectl imgsec whitelist rotate-certs'},
  ]

  static override flags = {
    'config-dir': configDirFlag(),
    days: Flags.integer({description: 'Validity of the new certificates, in days.', default: 825, min: 1, max: 3650}),
    debug: debugFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(WhitelistRotateCerts)
    const {rotateCertificates} = await import('../../lib/whitelist/rotate.js')
    const result = await rotateCertificates({configDir: flags['config-dir'], days: flags.days})
    process.stdout.write(result.changes.map((change) => `${change}\n`).join(''))
  }
}

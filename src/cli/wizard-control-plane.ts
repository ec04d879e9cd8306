// The wizard's control-plane tasks: patch the kube-apiserver manifest, restore a backup of it.
import {existsSync} from 'node:fs'

import {UserError} from '../lib/errors.js'
import {
  commandLine,
  type Prompter,
  requireManifest,
  required,
  type WizardContext,
  type WizardPlan,
} from './wizard-common.js'

export async function patchFlow(prompt: Prompter, context: WizardContext): Promise<WizardPlan> {
  requireManifest(context)
  const plugins = await prompt.input({
    message: 'Admission plugins to enable (comma-separated)',
    default: 'ImagePolicyWebhook',
    validate: required('a plugin'),
  })
  const config = await prompt.input({
    message: 'AdmissionConfiguration file (empty for none)',
    default: '',
    validate: (v) => (v === '' || existsSync(v) ? true : `${v} does not exist`),
  })
  const argv = ['patch-apiserver', '--enable-plugins', plugins]
  if (config) argv.push('--admission-config', config)
  const dryRun = await prompt.confirm({message: 'Only show the change (dry run)?', default: true})
  if (dryRun) argv.push('--dry-run')
  return {
    argv,
    commandLine: commandLine(argv),
    summary: [
      `enable ${plugins} in the kube-apiserver manifest${config ? ` with ${config}` : ''}`,
      dryRun ? 'dry run: nothing written' : 'backed up and written atomically',
    ],
  }
}

/** Restore names the backup it will put back: the newest one a restore did not make. */
export function restoreFlow(context: WizardContext): WizardPlan {
  const manifest = requireManifest(context)
  const chosen = (context.controlPlane?.backups() ?? []).findLast((record) => !record.byRestore)
  if (!chosen)
    throw new UserError(
      `there is no backup of ${manifest} to restore (see kubectl imgsec patch-apiserver --list-backups)`,
    )
  const argv = ['patch-apiserver', '--manifest', manifest, `--restore=${chosen.backup}`]
  return {
    argv,
    commandLine: commandLine(argv),
    summary: [
      `put back ${chosen.backup}, taken ${chosen.time} by: ${chosen.command}`,
      `the current ${manifest} is backed up first`,
    ],
  }
}

// Build step: save oclif's help text of the CLI and of every command (at 80 columns), so that
// `kubectl imgsec [COMMAND…] --help` is answered without loading oclif (bin/run.js's fast path).
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const manifest = JSON.parse(readFileSync(path.join(root, 'oclif.manifest.json'), 'utf8'))
const env = {...process.env, IMGSEC_NO_FAST_PATH: '1', COLUMNS: '80'}
const help = (argv) =>
  execFileSync(process.execPath, [path.join(root, 'bin', 'run.js'), ...argv, '--help'], {env, encoding: 'utf8'})

mkdirSync(path.join(root, 'dist', 'help'), {recursive: true})
writeFileSync(path.join(root, 'dist', 'root-help.txt'), help([]))
for (const id of Object.keys(manifest.commands)) {
  writeFileSync(path.join(root, 'dist', 'help', `${id.replaceAll(':', ' ')}.txt`), help(id.split(':')))
}

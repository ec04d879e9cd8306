#!/usr/bin/env node
// Entry point kubectl dispatches to (`kubectl imgsec …` runs `kubectl-imgsec …` from PATH).
import {readFileSync} from 'node:fs'

// Fast paths: `--version` and the top-level `--help` answer without loading oclif, so they start
// about as fast as node itself. The help text is oclif's own, saved at build time.
const args = process.argv.slice(2)
if (args.length === 1 && !process.env.IMGSEC_NO_FAST_PATH) {
  const {version} = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  const versionLine = `kubectl-imgsec/${version} ${process.platform}-${process.arch} node-${process.version}`
  if (args[0] === '--version') {
    process.stdout.write(`${versionLine}\n`)
    process.exit(0)
  }
  // `help` too, as `kubectl help` (help for a command goes through oclif's command_not_found hook).
  if (args[0] === '--help' || args[0] === 'help') {
    let help
    try {
      help = readFileSync(new URL('../dist/root-help.txt', import.meta.url), 'utf8')
    } catch {}
    if (help) {
      // The saved text names the machine that built it; name this one.
      process.stdout.write(help.replace(/kubectl-imgsec\/\S+ \S+ node-v\S+/, versionLine))
      process.exit(0)
    }
  }
}

// No arguments: the wizard in a terminal; elsewhere (scripts, CI) never prompt, print the help, fail.
if (args.length === 0) {
  if (process.stdin.isTTY && process.stdout.isTTY) process.argv.push('wizard')
  else {
    process.argv.push('--help')
    process.exitCode = 1
  }
}

const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})

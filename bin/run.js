#!/usr/bin/env node
// Entry point kubectl dispatches to (`kubectl imgsec …` runs `kubectl-imgsec …` from PATH).
import {readdirSync, readFileSync} from 'node:fs'

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

// `COMMAND --help` (`kubectl imgsec audit images --help`): the command's saved help, when the
// words before --help name a command exactly (anything else goes to oclif, which says what is wrong).
if (args.length >= 2 && args.at(-1) === '--help' && !process.env.IMGSEC_NO_FAST_PATH) {
  const words = args.slice(0, -1)
  if (words.every((word) => /^[a-z][a-z-]*$/.test(word))) {
    let help
    let known = []
    try {
      known = readdirSync(new URL('../dist/help/', import.meta.url)).map((file) => file.replace(/\.txt$/, ''))
      help = readFileSync(new URL(`../dist/help/${words.join(' ')}.txt`, import.meta.url), 'utf8')
    } catch {}
    // An unknown command (no prefix of the words is a command, and they are no topic): without
    // --help, oclif's command-not-found hook says "did you mean". A command's arguments before
    // --help (`create-regcred NAME --help`) keep --help, so nothing ever runs instead of the help.
    const topic = known.some((id) => id.startsWith(`${words.join(' ')} `))
    const command = words.some((_, n) => known.includes(words.slice(0, n + 1).join(' ')))
    if (!help && known.length > 0 && !topic && !command) process.argv.pop()
    if (help) {
      const {version} = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
      process.stdout.write(
        help.replace(
          /kubectl-imgsec\/\S+ \S+ node-v\S+/,
          `kubectl-imgsec/${version} ${process.platform}-${process.arch} node-${process.version}`,
        ),
      )
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

const {checkNodeVersion} = await import('../dist/cli/node-version.js')
checkNodeVersion()
const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})

import type {Hook, Interfaces} from '@oclif/core'

import {closestName} from '../lib/suggest.js'

/** A command id as the user types it: `audit:images` → `audit images`. */
const spaced = (id: string) => id.replaceAll(':', ' ')

/**
 * oclif's "command audit:images:examples not found" (exit 2) in kubectl's terms: one `error:`
 * line, a hint in kubectl's style, exit 1.
 *
 * - words after a real command (`audit images examples`) are arguments it does not take: the
 *   command runs with them, so its parser reports them as every other argument mistake is
 *   (for audit images: "use -f examples");
 * - `help [command]` shows that help, as `kubectl help` does;
 * - anything else is an unknown command, with "did you mean …?" among its siblings.
 */
const hook: Hook<'command_not_found'> = async function ({argv = [], config, id}) {
  const words = id.split(':')
  if (words[0] === 'help') {
    const {loadHelpClass} = await import('@oclif/core')
    const Help = await loadHelpClass(config)
    await new Help(config).showHelp([...words.slice(1), ...argv])
    return
  }
  for (let length = words.length - 1; length >= 1; length--) {
    const prefix = words.slice(0, length).join(':')
    if (config.findCommand(prefix)) return config.runCommand(prefix, [...words.slice(length), ...argv])
  }
  process.stderr.write(`${unknownCommandMessage(config, words)}\n`)
  this.exit(1)
}

export function unknownCommandMessage(config: Interfaces.Config, words: string[]): string {
  if (words[0].startsWith('-')) {
    // Before any command only --help and --version exist (kubectl takes no flags before the plugin name either).
    const guess = closestName(words[0].replace(/^-+/, ''), ['help', 'version'])
    return `error: unknown flag: ${words[0]}${guess ? `; did you mean --${guess}?` : ''}\nSee 'kubectl imgsec --help' for usage.`
  }
  // The deepest topic the words name (`whitelist` in `whitelist enabel`); the next word is the unknown one.
  let depth = 0
  while (depth < words.length - 1 && config.findTopic(words.slice(0, depth + 1).join(':'))) depth++
  const parent = words.slice(0, depth)
  const unknown = words[depth]
  const siblings = new Set<string>()
  for (const candidate of [...config.commandIDs, ...config.topics.map((topic) => topic.name)]) {
    const parts = candidate.split(':')
    if (parts.length > depth && parts.slice(0, depth).join(':') === parent.join(':')) siblings.add(parts[depth])
  }
  const guess = closestName(unknown, siblings)
  const where = ['kubectl imgsec', ...parent].join(' ')
  const suggestion = guess ? `; did you mean "${spaced([...parent, guess].join(':'))}"?` : ''
  return `error: unknown command "${unknown}" for "${where}"${suggestion}\nSee '${where} --help' for usage.`
}

export default hook

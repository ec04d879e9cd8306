#!/usr/bin/env node
// kubectl's plugin completion (kubectl ≥ 1.26): `kubectl imgsec <TAB>` runs this as
// `kubectl_complete-imgsec <args…> <word>`. Answered from the oclif manifest, without loading oclif;
// namespaces come from the cluster through kubectl itself (as `kubectl -n <TAB>` does), contexts
// from the kubeconfig, check IDs from the audit's registry.
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'

import {completeValues, completions} from '../dist/cli/completion.js'

const argv = process.argv.slice(2)
const manifest = JSON.parse(readFileSync(new URL('../oclif.manifest.json', import.meta.url), 'utf8'))
const {candidates, directive, dynamic} = completions(manifest, argv)

/** The value of --flag / --flag=value among the words typed so far. */
function flagValue(name) {
  for (const [index, word] of argv.slice(0, -1).entries()) {
    if (word === `--${name}`) return argv[index + 1]
    if (word.startsWith(`--${name}=`)) return word.slice(name.length + 3)
  }
  return undefined
}

function kubectlLines(args) {
  const target = ['kubeconfig', 'context'].flatMap((name) => (flagValue(name) ? [`--${name}=${flagValue(name)}`] : []))
  try {
    // A completion must never hang the shell: a short request timeout, and nothing on failure.
    const output = execFileSync('kubectl', [...args, ...target, '--request-timeout=5s'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 6000,
    })
    return output
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
  } catch {
    return []
  }
}

async function lookUp(kind) {
  if (kind === 'namespaces')
    return kubectlLines(['get', 'namespaces', '-o', 'custom-columns=NAME:.metadata.name', '--no-headers'])
  if (kind === 'contexts') return kubectlLines(['config', 'get-contexts', '-o', 'name'])
  if (kind === 'checks') return [...(await import('../dist/lib/audit/checks/index.js')).CHECK_IDS]
  return []
}

const found = dynamic ? completeValues(await lookUp(dynamic), argv.at(-1) ?? '') : candidates
process.stdout.write(found.map((c) => `${c}\n`).join('') + `:${directive}\n`)

#!/usr/bin/env node
// kubectl's plugin completion (kubectl ≥ 1.26): `kubectl imgsec <TAB>` runs this as
// `kubectl_complete-imgsec <args…> <word>`. Answered from the oclif manifest, without loading oclif.
import {readFileSync} from 'node:fs'

import {completions} from '../dist/cli/completion.js'

const manifest = JSON.parse(readFileSync(new URL('../oclif.manifest.json', import.meta.url), 'utf8'))
const {candidates, directive} = completions(manifest, process.argv.slice(2))
process.stdout.write(candidates.map((c) => `${c}\n`).join('') + `:${directive}\n`)

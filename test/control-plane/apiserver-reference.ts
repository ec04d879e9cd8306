// npm run k8s:reference [-- BINARY…]: read `kube-apiserver --help` of the built binary (or of the
// binaries given) and write the flags and admission plugins each release accepts into
// src/lib/kube-apiserver-reference.ts, which patch-apiserver's preflight reads. Generated, never
// typed by hand; test/k8s/patch-apiserver.test.ts fails when the table and the binary disagree.
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {findBinaries, MODULE_DIR} from './binaries.js'

export const REFERENCE_FILE = path.join(MODULE_DIR, '..', '..', 'src', 'lib', 'kube-apiserver-reference.ts')

export interface ReleaseReference {
  flags: string[]
  admissionPlugins: string[]
  defaultAdmissionPlugins: string[]
}

/** Flag names and admission plugins from the text of `kube-apiserver --help`. */
export function parseApiserverHelp(help: string): ReleaseReference {
  const flags = new Set<string>()
  const descriptions = new Map<string, string>()
  let current: string | undefined
  for (const line of help.split('\n')) {
    const flag = /^\s+(?:-[A-Za-z], )?--([a-z0-9][a-z0-9-]*)\b(.*)$/.exec(line)
    if (flag) {
      current = flag[1]
      flags.add(current)
      descriptions.set(current, flag[2])
    } else if (current && /^\s{8,}\S/.test(line)) descriptions.set(current, `${descriptions.get(current)} ${line.trim()}`)
    else current = undefined
  }
  const text = (descriptions.get('enable-admission-plugins') ?? '').replace(/\s+/g, ' ')
  const all = /Comma-delimited list of admission plugins: (.*?)\. The order/.exec(text)
  const defaults = /in addition to default enabled ones \((.*?)\)\./.exec(text)
  if (!all || flags.size < 50) throw new Error('this does not look like kube-apiserver --help: no admission plugin list or too few flags')
  const split = (list: string) => list.split(',').map((name) => name.trim()).filter(Boolean)
  return {flags: [...flags].sort(), admissionPlugins: split(all[1]).sort(), defaultAdmissionPlugins: defaults ? split(defaults[1]) : []}
}

export function releaseOf(versionOutput: string): string {
  const match = /v(\d+)\.(\d+)\.\d+/.exec(versionOutput)
  if (!match) throw new Error(`cannot read a version from "${versionOutput.trim()}"`)
  return `${match[1]}.${match[2]}`
}

const BEGIN = '// BEGIN GENERATED'
const END = '// END GENERATED'

export function readReferenceFile(): Record<string, ReleaseReference> {
  if (!existsSync(REFERENCE_FILE)) return {}
  const text = readFileSync(REFERENCE_FILE, 'utf8')
  const body = text.slice(text.indexOf(BEGIN) + BEGIN.length, text.indexOf(END)).replace(/^[^{]*/, '').replace(/;?\s*$/, '')
  return JSON.parse(body) as Record<string, ReleaseReference>
}

export function renderReferenceFile(releases: Record<string, ReleaseReference>): string {
  const sorted = Object.fromEntries(Object.keys(releases).sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1])).map((key) => [key, releases[key]]))
  return [
    '// Flags and admission plugins of kube-apiserver, per release, read from the real binaries\' --help',
    '// by test/control-plane/apiserver-reference.ts (npm run k8s:reference). Do not edit by hand.',
    '',
    'export interface ReleaseReference {',
    '  flags: string[]',
    '  admissionPlugins: string[]',
    '  defaultAdmissionPlugins: string[]',
    '}',
    '',
    BEGIN,
    `export const KUBE_APISERVER_REFERENCE: Record<string, ReleaseReference> = ${JSON.stringify(sorted, null, 2)}`,
    END,
    '',
  ].join('\n')
}

function main(): void {
  const given = process.argv.slice(2)
  const built = findBinaries()
  const binaries = given.length > 0 ? given : built ? [built.paths['kube-apiserver']] : []
  if (binaries.length === 0) {
    process.stderr.write('error: no kube-apiserver: run npm run k8s:build first, or pass the path of a kube-apiserver binary\n')
    process.exitCode = 1
    return
  }
  const releases = readReferenceFile()
  for (const binary of binaries) {
    const release = releaseOf(execFileSync(binary, ['--version'], {encoding: 'utf8'}))
    // --help goes to stdout; cobra exits 0.
    releases[release] = parseApiserverHelp(execFileSync(binary, ['--help'], {encoding: 'utf8', maxBuffer: 16 * 1024 * 1024}))
    process.stdout.write(`kube-apiserver ${release}: ${releases[release].flags.length} flags, ${releases[release].admissionPlugins.length} admission plugins\n`)
  }
  writeFileSync(REFERENCE_FILE, renderReferenceFile(releases))
  process.stdout.write(`wrote ${REFERENCE_FILE}\n`)
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) main()

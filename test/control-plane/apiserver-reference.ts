// npm run k8s:reference [-- BINARY… | --release vX.Y.Z…]: read `kube-apiserver --help` of the built binary (or of the
// binaries given) and write the flags and admission plugins each release accepts into
// src/lib/controlplane/kube-apiserver-reference.ts, which patch-apiserver's preflight reads. Generated, never
// typed by hand; test/k8s/patch-apiserver.test.ts fails when the table and the binary disagree.
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {findBinaries, MODULE_DIR} from './binaries.js'

export const REFERENCE_FILE = path.join(
  MODULE_DIR,
  '..',
  '..',
  'src',
  'lib',
  'controlplane',
  'kube-apiserver-reference.ts',
)

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
    } else if (current && /^\s{8,}\S/.test(line))
      descriptions.set(current, `${descriptions.get(current)} ${line.trim()}`)
    else current = undefined
  }
  const text = (descriptions.get('enable-admission-plugins') ?? '').replace(/\s+/g, ' ')
  const all = /Comma-delimited list of admission plugins: (.*?)\. The order/.exec(text)
  const defaults = /in addition to default enabled ones \((.*?)\)\./.exec(text)
  if (!all || flags.size < 50)
    throw new Error('this does not look like kube-apiserver --help: no admission plugin list or too few flags')
  const split = (list: string) =>
    list
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean)
  return {
    flags: [...flags].sort(),
    admissionPlugins: split(all[1]).sort(),
    defaultAdmissionPlugins: defaults ? split(defaults[1]) : [],
  }
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
  const body = text
    .slice(text.indexOf(BEGIN) + BEGIN.length, text.indexOf(END))
    .replace(/^[^{]*/, '')
    .replace(/;?\s*$/, '')
  return JSON.parse(body) as Record<string, ReleaseReference>
}

export function renderReferenceFile(releases: Record<string, ReleaseReference>): string {
  const sorted = Object.fromEntries(
    Object.keys(releases)
      .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))
      .map((key) => [key, releases[key]]),
  )
  return [
    "// Flags and admission plugins of kube-apiserver, per release, read from the real binaries' --help",
    '// by test/control-plane/apiserver-reference.ts (npm run k8s:reference). Do not edit by hand.',
    '// Longer than 300 lines because it is generated data: one list of names per release.',
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

/**
 * Build another release's kube-apiserver in a throw-away module (the same pinning as go.mod here:
 * every staging module Kubernetes replaces with ./staging/… at the matching v0.x.y tag), for its --help.
 */
function buildRelease(version: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `imgsec-kube-apiserver-${version}-`))
  const run = (args: string[]) =>
    execFileSync('go', args, {cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']})
  writeFileSync(
    path.join(dir, 'go.mod'),
    `module imgsec.example/reference\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes ${version}\n`,
  )
  const info = JSON.parse(run(['mod', 'download', '-json', `k8s.io/kubernetes@${version}`])) as {GoMod: string}
  const staging = [...readFileSync(info.GoMod, 'utf8').matchAll(/^\s*(k8s\.io\/[a-z0-9-]+) => \.\/staging\//gm)]
    .map((m) => m[1])
    .filter((m) => !/sample-(cli-plugin|controller)$/.test(m))
  const tag = `v0.${version.slice(3)}`
  writeFileSync(
    path.join(dir, 'go.mod'),
    `module imgsec.example/reference\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes ${version}\n\nreplace (\n${staging.map((m) => `\t${m} => ${m} ${tag}\n`).join('')})\n`,
  )
  writeFileSync(
    path.join(dir, 'tools.go'),
    '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n',
  )
  run(['mod', 'tidy'])
  const [major, minor] = version.slice(1).split('.')
  run([
    'build',
    '-trimpath',
    '-buildvcs=false',
    `-ldflags=-s -w -X k8s.io/component-base/version.gitVersion=${version} -X k8s.io/component-base/version.gitMajor=${major} -X k8s.io/component-base/version.gitMinor=${minor}`,
    '-o',
    'kube-apiserver',
    'k8s.io/kubernetes/cmd/kube-apiserver',
  ])
  return path.join(dir, 'kube-apiserver')
}

function main(): void {
  const args = process.argv.slice(2)
  // --release vX.Y.Z (repeatable): build that release's kube-apiserver first (minutes each).
  const releases = args.flatMap((arg, i) => (arg === '--release' ? [args[i + 1]] : []))
  const given = args.filter((arg, i) => arg !== '--release' && args[i - 1] !== '--release')
  for (const version of releases) {
    if (!/^v1\.\d+\.\d+$/.test(version ?? ''))
      throw new Error(`--release ${version}: expected vMAJOR.MINOR.PATCH, e.g. v1.36.3`)
    process.stdout.write(`building kube-apiserver ${version} for its --help…\n`)
    given.push(buildRelease(version))
  }
  const built = findBinaries()
  const binaries = given.length > 0 ? given : built ? [built.paths['kube-apiserver']] : []
  if (binaries.length === 0) {
    process.stderr.write(
      'error: no kube-apiserver: run npm run k8s:build first, or pass the path of a kube-apiserver binary\n',
    )
    process.exitCode = 1
    return
  }
  const table = readReferenceFile()
  for (const binary of binaries) {
    const release = releaseOf(execFileSync(binary, ['--version'], {encoding: 'utf8'}))
    // --help goes to stdout; cobra exits 0.
    table[release] = parseApiserverHelp(
      execFileSync(binary, ['--help'], {encoding: 'utf8', maxBuffer: 16 * 1024 * 1024}),
    )
    process.stdout.write(
      `kube-apiserver ${release}: ${table[release].flags.length} flags, ${table[release].admissionPlugins.length} admission plugins\n`,
    )
  }
  writeFileSync(REFERENCE_FILE, renderReferenceFile(table))
  process.stdout.write(`wrote ${REFERENCE_FILE}\n`)
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) main()

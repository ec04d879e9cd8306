import {spawn} from 'node:child_process'
import {chmodSync, mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CLI = path.join(ROOT, 'bin', 'run.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Every output of every CLI run in this test process, so a test can prove a secret never appeared. */
export const cliTranscript: Array<{args: string[]} & CliResult> = []

/** Spawn a program, feed it `input`, collect its output. */
function collect(
  file: string,
  args: string[],
  options: {env: Record<string, string | undefined>; input?: string; cwd?: string},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({code: code ?? -1, stdout, stderr}))
    // A program that exits without reading stdin closes the pipe first: not an error.
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')
  })
}

/**
 * Run the built CLI (`bin/run.js` → dist/) as a user would, in a child process with its own
 * environment: HOME points at an empty directory so the developer's ~/.kube/config never leaks in.
 */
export async function runCli(
  args: string[],
  options: {env?: Record<string, string | undefined>; input?: string; cwd?: string} = {},
): Promise<CliResult> {
  const home = mkdtempSync(path.join(tmpdir(), 'imgsec-home-'))
  const env: Record<string, string> = {PATH: process.env.PATH ?? '', HOME: home, NODE_ENV: 'production'}
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value !== undefined) env[key] = value
  }
  try {
    const result = await collect(process.execPath, [CLI, ...args], {
      env,
      input: options.input,
      cwd: options.cwd ?? ROOT,
    })
    cliTranscript.push({args, ...result})
    return result
  } finally {
    rmSync(home, {recursive: true, force: true})
  }
}

/** Run a program (e.g. the real kubectl) and collect its output. */
export function runProgram(
  file: string,
  args: string[],
  options: {env?: Record<string, string>; input?: string} = {},
): Promise<CliResult> {
  return collect(file, args, {env: {...process.env, ...options.env}, input: options.input})
}

export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl'

/**
 * Run the built CLI as user nobody (uid 65534), for the "no write permission" paths. The process
 * keeps CAP_DAC_READ_SEARCH, so it can read the checkout wherever it lies (CI may clone into a
 * 0700 directory) but writes only where nobody may. Needs root and setpriv.
 */
export function runCliAsNobody(args: string[]): Promise<CliResult> {
  return runProgram(
    '/usr/bin/setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--inh-caps=+dac_read_search',
      '--ambient-caps=+dac_read_search',
      process.execPath,
      CLI,
      ...args,
    ],
    {env: {HOME: '/tmp'}},
  )
}

/**
 * Let other users (nobody) reach the built CLI: a checkout in a `mktemp -d` directory (0700) is
 * not traversable by them. Adds o+x to each ancestor of ROOT that lacks it; returns the undo.
 */
export function letOthersReachCli(): () => void {
  const changed: Array<{dir: string; mode: number}> = []
  let dir = ROOT
  while (true) {
    const mode = statSync(dir).mode & 0o7777
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001)
      changed.push({dir, mode})
    }
    const parent = path.dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  return () => {
    for (const {dir: changedDir, mode} of changed) chmodSync(changedDir, mode)
  }
}

// npm run cosign:build [-- --optional]: build the real cosign (for signing test images) from Go
// modules into the cache (binary.ts). Instant when the cache holds it; a cold build took 700 s on
// 2 shared cores. --optional (used by `npm test`): without Go, say loudly that the signature tests
// sign with node:crypto instead, and exit 0 — except under CI, where that is a failure.
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, renameSync, rmSync} from 'node:fs'
import path from 'node:path'

import {COSIGN_MODULE, COSIGN_VERSION, cosignBinaryPath, cosignDir} from './binary.js'

function banner(lines: string[]): void {
  const width = Math.max(...lines.map((line) => line.length))
  const bar = '#'.repeat(width + 4)
  process.stderr.write(`${bar}\n${lines.map((line) => `# ${line.padEnd(width)} #`).join('\n')}\n${bar}\n`)
}

async function main(): Promise<number> {
  const optional = process.argv.includes('--optional')
  const ci = Boolean(process.env.CI)
  if (existsSync(cosignBinaryPath())) {
    process.stdout.write(`cosign ${COSIGN_VERSION}: cached in ${cosignBinaryPath()}\n`)
    return 0
  }
  const go = spawnSync('go', ['version'], {encoding: 'utf8'})
  if (go.error || go.status !== 0) {
    banner([
      'cosign CANNOT BE BUILT: `go` is not on PATH.',
      "The signature tests then sign in cosign's format with node:crypto, not with the real cosign.",
      ci ? 'CI is set: this is a failure.' : 'Run npm run cosign:build on a machine with Go.',
    ])
    return optional && !ci ? 0 : 1
  }
  const finalDir = cosignDir()
  const workDir = `${finalDir}.building-${process.pid}`
  rmSync(workDir, {recursive: true, force: true})
  mkdirSync(workDir, {recursive: true})
  process.stdout.write(
    `building cosign ${COSIGN_VERSION} with ${go.stdout.trim()} into ${finalDir} (cold: about 12 minutes)\n`,
  )
  const started = Date.now()
  const child = spawn('go', ['install', `${COSIGN_MODULE}@${COSIGN_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    // -mod=mod: `go install pkg@version` builds the module as released, outside any go.mod here.
    env: {...process.env, GOBIN: workDir, GOFLAGS: '-mod=mod'},
  })
  const code = await new Promise<number>((resolve) => child.on('close', (status) => resolve(status ?? 1)))
  const seconds = Math.round((Date.now() - started) / 1000)
  if (code !== 0) {
    rmSync(workDir, {recursive: true, force: true})
    process.stderr.write(`error: building cosign failed after ${seconds}s (exit ${code})\n`)
    return optional && !ci ? 0 : 1
  }
  rmSync(finalDir, {recursive: true, force: true})
  mkdirSync(path.dirname(finalDir), {recursive: true})
  renameSync(workDir, finalDir)
  process.stdout.write(`built in ${seconds}s: ${cosignBinaryPath()}\n`)
  return 0
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname))
  process.exitCode = await main()

// npm run k8s:build [-- --optional]: build the real kube-apiserver, kube-controller-manager and etcd
// from Go modules into the cache (see binaries.ts). Instant when the cache already holds them.
//
// --optional (used by `npm test`): without Go on PATH, say loudly that the real control-plane
// suite will not run and exit 0 — except under CI (CI set), where that is a failure.
import {spawn, spawnSync} from 'node:child_process'
import {mkdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {
  binaryDir,
  type BuildRecord,
  cacheKey,
  findBinaries,
  kubernetesVersion,
  ldflags,
  MODULE_DIR,
} from './binaries.js'

const PACKAGES = ['k8s.io/kubernetes/cmd/kube-apiserver', 'k8s.io/kubernetes/cmd/kube-controller-manager', './etcd']

function banner(lines: string[]): void {
  const width = Math.max(...lines.map((line) => line.length))
  const bar = '#'.repeat(width + 4)
  process.stderr.write(`${bar}\n${lines.map((line) => `# ${line.padEnd(width)} #`).join('\n')}\n${bar}\n`)
}

/** Lines in which the go command reports what a module proxy answered, e.g. "…@v1.2.3.zip: 403 Forbidden". */
export function proxyRefusals(output: string): string[] {
  return output
    .split('\n')
    .filter((line) =>
      /(proxy\.golang\.org|GOPROXY|\.mod|\.zip|\.info).*:\s*(4\d\d|5\d\d)\b|reading https?:\/\/.*: \d{3}/.test(line),
    )
    .map((line) => line.trim())
}

async function main(): Promise<number> {
  const optional = process.argv.includes('--optional')
  const existing = findBinaries()
  if (existing) {
    process.stdout.write(`real control plane ${existing.version}: binaries cached in ${existing.dir}\n`)
    return 0
  }
  const go = spawnSync('go', ['version'], {encoding: 'utf8'})
  if (go.error || go.status !== 0) {
    const ci = Boolean(process.env.CI)
    banner([
      'THE REAL CONTROL-PLANE SUITE (test/k8s) CANNOT RUN: `go` is not on PATH.',
      'It needs kube-apiserver and etcd built from Go modules (npm run k8s:build, Go >= 1.26).',
      ci ? 'CI is set: this is a failure.' : 'The other suites run; test/k8s is reported as NOT RUN.',
    ])
    return optional && !ci ? 0 : 1
  }
  const version = kubernetesVersion()
  const finalDir = binaryDir()
  const workDir = `${finalDir}.building-${process.pid}`
  rmSync(workDir, {recursive: true, force: true})
  mkdirSync(workDir, {recursive: true})
  process.stdout.write(
    `building kube-apiserver, kube-controller-manager ${version} and etcd with ${go.stdout.trim()} into ${finalDir}\n`,
  )
  process.stdout.write(
    'a cold build takes about 10 minutes on 2 cores (docs/control-plane.md); later runs reuse the cache\n',
  )
  const started = Date.now()
  const args = [
    'build',
    '-trimpath',
    '-buildvcs=false',
    `-ldflags=${ldflags(version)}`,
    '-o',
    `${workDir}${path.sep}`,
    ...PACKAGES,
  ]
  const child = spawn('go', args, {
    cwd: MODULE_DIR,
    stdio: ['ignore', 'inherit', 'pipe'],
    env: {...process.env, GOFLAGS: '-mod=readonly'},
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    process.stderr.write(chunk)
  })
  const code = await new Promise<number>((resolve) => child.on('close', (status) => resolve(status ?? 1)))
  const seconds = Math.round((Date.now() - started) / 1000)
  if (code !== 0) {
    rmSync(workDir, {recursive: true, force: true})
    const refused = proxyRefusals(stderr)
    if (refused.length > 0)
      banner([
        'The Go module proxy refused a module the control plane needs:',
        ...refused,
        'The real control-plane suite is blocked on this (issue 9).',
      ])
    process.stderr.write(`error: go build failed after ${seconds}s (exit ${code})\n`)
    return 1
  }
  const record: BuildRecord = {
    version,
    key: cacheKey(version),
    go: go.stdout.trim(),
    builtAt: new Date().toISOString(),
    seconds: {total: seconds},
  }
  writeFileSync(path.join(workDir, 'build.json'), JSON.stringify(record, null, 2) + '\n')
  rmSync(finalDir, {recursive: true, force: true})
  renameSync(workDir, finalDir)
  process.stdout.write(`built in ${seconds}s: ${finalDir}\n`)
  return 0
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname))
  process.exitCode = await main()

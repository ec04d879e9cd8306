// npm run k8s:up -- DIR [--manifest FILE] [--controller-manager] [-- kube-apiserver flags…]
// npm run k8s:down -- DIR
//
// `up` starts etcd and kube-apiserver (the kubeadm manifest's command, see control-plane.ts) in the
// background, waits for /readyz and writes DIR/kubeconfig (cluster-admin), DIR/pids and DIR/logs/.
// `down` stops what DIR/pids lists.
import {existsSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'

import {ApiserverStartError, ControlPlane} from './control-plane.js'

const USAGE =
  'usage: npm run k8s:up -- DIR [--manifest FILE] [--controller-manager] [-- kube-apiserver flags…]\n       npm run k8s:down -- DIR\n'

async function up(argv: string[]): Promise<number> {
  const split = argv.indexOf('--')
  const own = split === -1 ? argv : argv.slice(0, split)
  const extraArgs = split === -1 ? [] : argv.slice(split + 1)
  let dir: string | undefined
  let manifest: string | undefined
  let controllerManager = false
  for (let i = 0; i < own.length; i++) {
    const arg = own[i]
    if (arg === '--manifest') manifest = own[++i]
    else if (arg === '--controller-manager') controllerManager = true
    else if (arg.startsWith('--') && !dir) {
      // npm drops the first "--": flags for kube-apiserver may follow DIR directly.
      extraArgs.unshift(...own.slice(i))
      break
    } else if (!dir) dir = arg
    else extraArgs.push(arg)
  }
  if (!dir) {
    process.stderr.write(USAGE)
    return 1
  }
  if (existsSync(path.join(dir, 'pids'))) {
    process.stderr.write(
      `error: ${dir}/pids exists: a control plane may be running there; run npm run k8s:down -- ${dir} first\n`,
    )
    return 1
  }
  const started = Date.now()
  try {
    const plane = await ControlPlane.start({dir, manifest, extraArgs, controllerManager, detached: true})
    process.stdout.write(
      `kube-apiserver ${plane.binaries.version} ready at ${plane.server} in ${((Date.now() - started) / 1000).toFixed(1)}s\n`,
    )
    process.stdout.write(
      `kubeconfig: ${plane.kubeconfig}\nlogs: ${path.join(plane.dir, 'logs')}\nstop: npm run k8s:down -- ${dir}\n`,
    )
    return 0
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`)
    if (error instanceof ApiserverStartError) process.stderr.write(`${error.log}\n`)
    await down(dir)
    return 1
  }
}

async function down(dir: string): Promise<number> {
  const file = path.join(dir, 'pids')
  if (!existsSync(file)) {
    process.stderr.write(`nothing to stop: no ${file}\n`)
    return 0
  }
  const pids = readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number).reverse()
  // Only our own processes: a pid left in the file may belong to something else by now.
  const alive = (pid: number) => {
    try {
      return /(^|\/)(etcd|kube-apiserver|kube-controller-manager)\0/.test(
        readFileSync(`/proc/${pid}/cmdline`, 'latin1'),
      )
    } catch {
      return false
    }
  }
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + 10_000
  while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL')
  rmSync(file)
  process.stdout.write(`stopped ${pids.length} process(es) of ${dir}\n`)
  return 0
}

const [command, ...rest] = process.argv.slice(2)
if (command === 'up') process.exitCode = await up(rest)
else if (command === 'down' && rest[0]) process.exitCode = await down(rest[0])
else {
  process.stderr.write(USAGE)
  process.exitCode = 1
}

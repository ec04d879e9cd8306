import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

/**
 * Plays the kubelet for one static pod file: when the manifest appears or changes it runs the
 * container's command on this host (hostPath volumes map to the same paths, so the files are
 * where the command expects them), with this Node.js in place of the image's; when the file
 * goes away it stops the process.
 */
export function startKubeletSimulator(
  manifestsDir: string,
  file: string,
): {stop: () => Promise<void>; output: () => string; runs: () => number} {
  const manifest = path.join(manifestsDir, file)
  let current: ChildProcess | undefined
  let seen: string | undefined
  let output = ''
  let runs = 0
  const kill = () =>
    new Promise<void>((resolve) => {
      const child = current
      current = undefined
      if (!child || child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  const tick = async () => {
    const text = existsSync(manifest) ? readFileSync(manifest, 'utf8') : undefined
    if (text === seen) return
    seen = text
    await kill()
    if (text === undefined) return
    const pod = parseYaml(text) as {spec: {containers: Array<{command: string[]}>}}
    const [, ...args] = pod.spec.containers[0].command
    runs++
    current = spawn(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe']})
    current.stdout!.on('data', (chunk) => {
      output += chunk
    })
    current.stderr!.on('data', (chunk) => {
      output += chunk
    })
  }
  let busy = false
  const timer = setInterval(() => {
    if (busy) return
    busy = true
    tick().finally(() => {
      busy = false
    })
  }, 100)
  return {
    async stop() {
      clearInterval(timer)
      await kill()
    },
    output: () => output,
    runs: () => runs,
  }
}

// Shared harness of the real-control-plane suite (test/k8s): the binaries from `npm run k8s:build`,
// one control plane shared by every file that can share it (tests isolate by namespace), and
// dedicated ones for tests that need their own kube-apiserver flags.
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {findBinaries} from '../control-plane/binaries.js'
import {ControlPlane, type StartOptions} from '../control-plane/control-plane.js'

export const binaries = findBinaries()

let warned = false

/**
 * describe() for a suite that needs the real control plane. Without the binaries it says so
 * loudly and registers one pending test; under CI (CI set) that is a failing test instead.
 */
export function describeReal(title: string, body: (this: Mocha.Suite) => void): void {
  if (binaries) {
    describe(`${title} [real kube-apiserver ${binaries.version}]`, body)
    return
  }
  if (process.env.CI) {
    describe(title, () => {
      it('needs the real control-plane binaries (npm run k8s:build): under CI this suite must run', () => {
        throw new Error('the real control-plane binaries are missing: .ci/run must build them with npm run k8s:build')
      })
    })
    return
  }
  if (!warned) {
    warned = true
    process.stderr.write(
      '\n######## REAL CONTROL-PLANE SUITE (test/k8s) NOT RUN: kube-apiserver/etcd not built. Run `npm run k8s:build` (needs Go). ########\n\n',
    )
  }
  describe(title, () => {
    it('NOT RUN: the real kube-apiserver and etcd are not built (npm run k8s:build needs Go)')
  })
}

const dirs: string[] = []
const planes: ControlPlane[] = []

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

/** A control plane of its own (its own kube-apiserver flags); stopped when the test run ends at the latest (a suite may stop it sooner). */
export async function startControlPlane(options: Partial<StartOptions> = {}): Promise<ControlPlane> {
  const plane = await ControlPlane.start({dir: tempDir('imgsec-k8s-'), ...options})
  planes.push(plane)
  return plane
}

let shared: Promise<ControlPlane> | undefined

/**
 * The control plane most tests share: the kubeadm manifest's flags as they are, and
 * kube-controller-manager, so namespaces get their default service account and Deployments
 * their ReplicaSets and pods.
 */
export function sharedControlPlane(): Promise<ControlPlane> {
  shared ??= startControlPlane({controllerManager: true})
  return shared
}

/** Poll `probe` until it returns something other than undefined; throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/**
 * kube-apiserver flags for an audit log of pod requests (Metadata level) in `dir`: where the
 * admission plugins' audit annotations can be read.
 */
export function podAuditLog(dir: string): {args: string[]; file: string} {
  const policy = path.join(dir, 'audit-policy.yaml')
  writeFileSync(
    policy,
    'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  resources: [{group: "", resources: ["pods"]}]\n- level: None\n',
  )
  const file = path.join(dir, 'audit.log')
  return {args: [`--audit-policy-file=${policy}`, `--audit-log-path=${file}`], file}
}

/** The audit annotations of the CREATE of pod `name`, once its event is in the log. */
export function podCreateAuditAnnotations(file: string, name: string): Promise<Record<string, string>> {
  return until(
    `the audit event of the creation of pod ${name}`,
    async () => {
      const events = existsSync(file)
        ? readFileSync(file, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line))
        : []
      const event = events.find(
        (e) =>
          e.verb === 'create' &&
          e.objectRef?.resource === 'pods' &&
          e.objectRef?.name === name &&
          e.stage === 'ResponseComplete',
      )
      return event ? ((event.annotations ?? {}) as Record<string, string>) : undefined
    },
    5000,
    100,
  )
}

let counter = 0

/** A fresh namespace with its default service account (made by the controller-manager). */
export async function freshNamespace(plane: ControlPlane, prefix = 't'): Promise<string> {
  const name = `${prefix}-${process.pid}-${++counter}`
  const created = await plane.kubectl(['create', 'namespace', name])
  if (created.code !== 0) throw new Error(`kubectl create namespace ${name}: ${created.stderr}`)
  await until(
    `the default service account of namespace ${name} (made by kube-controller-manager)`,
    async () =>
      (await plane.kubectl(['get', 'serviceaccount', 'default', '-n', name, '-o', 'name'])).code === 0
        ? true
        : undefined,
    30_000,
    200,
  )
  return name
}

// A root hook: runs once, after every test file.
after(async function () {
  this.timeout(60_000)
  for (const plane of planes.splice(0)) await plane.stop()
  if (!process.env.IMGSEC_KEEP_K8S_DIRS) for (const dir of dirs.splice(0)) rmSync(dir, {recursive: true, force: true})
})

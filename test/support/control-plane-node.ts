import {expect} from 'chai'
import {chmodSync, copyFileSync, mkdirSync} from 'node:fs'
import path from 'node:path'

import type {ControlPlane} from '../control-plane/control-plane.js'
import {type CliResult, ROOT, runCli} from './cli.js'
import {startKubeletSimulator} from './kubelet-simulator.js'
import {freePort} from './registry.js'

/** The kubeadm 1.32 kube-apiserver manifest every whitelist test starts from. */
export const KUBEADM_MANIFEST = path.join(ROOT, 'test', 'fixtures', 'kube-apiserver.kubeadm-1.32.yaml')

/** A backend image pinned by a digest no registry is asked about (the kubelet simulator runs this Node.js). */
export const TEST_BACKEND_IMAGE = `gcr.io/distroless/nodejs22-debian12:nonroot@sha256:${'5'.repeat(64)}`

export interface ControlPlaneNode {
  dir: string
  manifestsDir: string
  manifest: string
  configDir: string
  backupDir: string
  /** A free loopback port for the static-pod backend. */
  port: number
  /** --config-dir, --manifests-dir and --backup-dir for `whitelist` commands. */
  flags: string[]
}

/** A control-plane node's files in `dir`: the kubeadm manifest (0600) in manifests/, config and backup dirs beside it. */
/** The start of `whitelist enable` on a node: its folders, its webhook port, the backend image. */
export function enableOn(node: Pick<ControlPlaneNode, 'flags' | 'port'>, image = TEST_BACKEND_IMAGE): string[] {
  return ['whitelist', 'enable', ...node.flags, '--port', String(node.port), '--backend-image', image]
}

export async function controlPlaneNode(dir: string): Promise<ControlPlaneNode> {
  const manifestsDir = path.join(dir, 'manifests')
  mkdirSync(manifestsDir)
  const manifest = path.join(manifestsDir, 'kube-apiserver.yaml')
  copyFileSync(KUBEADM_MANIFEST, manifest)
  chmodSync(manifest, 0o600)
  const configDir = path.join(dir, 'imgsec')
  const backupDir = path.join(dir, 'backups')
  return {
    dir,
    manifestsDir,
    manifest,
    configDir,
    backupDir,
    port: await freePort(),
    flags: ['--config-dir', configDir, '--manifests-dir', manifestsDir, '--backup-dir', backupDir],
  }
}

export interface WhitelistedApiserver {
  node: ControlPlaneNode
  /** Runs the backend's static pod. */
  kubelet: ReturnType<typeof startKubeletSimulator>
  /** `kubectl create` of a pod in namespace default with one container: the real API server asks the backend. */
  createPod(name: string, image: string, securityContext?: Record<string, unknown>): Promise<CliResult>
  /** Stops the backend, then the control plane. */
  stop(): Promise<void>
}

/**
 * A real kube-apiserver behind `whitelist enable`: a control-plane node's files in `dir`, enable
 * (static placement, `enableArgs` for the policy) with the backend run by the kubelet simulator,
 * then `plane`'s kube-apiserver restarted from the patched manifest, as the kubelet would. Caches
 * live 1 s, so a test sees the backend's answer of the moment. It owns `plane` from then on: `stop`
 * (or a failure here) stops both.
 */
export async function whitelistedApiserver(
  plane: ControlPlane,
  dir: string,
  enableArgs: string[],
): Promise<WhitelistedApiserver> {
  const node = await controlPlaneNode(dir)
  const kubelet = startKubeletSimulator(node.manifestsDir, 'imgsec-webhook.yaml')
  try {
    // No kube-controller-manager: the service account the ServiceAccount plugin looks up is made by hand.
    expect((await plane.kubectl(['create', 'serviceaccount', 'default', '-n', 'default'])).code).to.equal(0)
    const enabled = await runCli([
      ...enableOn(node, TEST_BACKEND_IMAGE),
      ...enableArgs,
      '--allow-ttl',
      '1',
      '--deny-ttl',
      '1',
      '--backend-timeout',
      '60s',
    ])
    expect(enabled.code, `${enabled.stderr}\n${kubelet.output()}`).to.equal(0)
    await plane.startApiserver({manifest: node.manifest})
  } catch (error) {
    await kubelet.stop()
    await plane.stop()
    throw error
  }
  const createPod = (name: string, image: string, securityContext?: Record<string, unknown>) =>
    plane.kubectl(['create', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {name, namespace: 'default'},
        spec: {containers: [{name: 'main', image, ...(securityContext ? {securityContext} : {})}]},
      }),
    })
  const stop = async () => {
    await kubelet.stop()
    await plane.stop()
  }
  return {node, kubelet, createPod, stop}
}

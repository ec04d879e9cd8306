import {chmodSync, copyFileSync, mkdirSync} from 'node:fs'
import path from 'node:path'

import {ROOT} from './cli.js'
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

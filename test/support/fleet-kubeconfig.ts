// A kubeconfig for a fleet audit: one file, one context (with its own cluster and user) per API
// server, as `kubectl config view --flatten` of several clusters looks.
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

/** Write it to a new temp dir; `servers` maps each context name to its server URL (http: no TLS check). */
export function writeFleetKubeconfig(servers: Record<string, string>): string {
  const names = Object.keys(servers)
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-fleet-')), 'kubeconfig')
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: names.map((name) => ({
        name: `${name}-cluster`,
        cluster: {server: servers[name], 'insecure-skip-tls-verify': true},
      })),
      users: names.map((name) => ({name: `${name}-user`, user: {token: `token-${name}`}})),
      contexts: names.map((name) => ({name, context: {cluster: `${name}-cluster`, user: `${name}-user`}})),
      'current-context': names[0],
    }),
    {mode: 0o600},
  )
  return file
}

/** A pod in `default` running `image` as `digest` (status.containerStatuses[].imageID). */
export function runningPod(name: string, image: string, digest: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {name, namespace: 'default'},
    spec: {containers: [{name: 'main', image}]},
    status: {containerStatuses: [{name: 'main', image, imageID: `docker.io/library/nginx@${digest}`}]},
  }
}

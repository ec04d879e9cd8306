// What every concern says about Kubernetes objects: their shape, kubectl's `-o name` form, and the
// dry-run modes of a write.

export interface KubeObject {
  apiVersion?: string
  kind?: string
  metadata?: {name?: string; namespace?: string; [key: string]: unknown}
  [key: string]: unknown
}

/** `secret/x`, `deployment.apps/x`: kubectl's `-o name` form. */
export function objectName(object: KubeObject): string {
  const kind = (object.kind ?? '').toLowerCase()
  const group = object.apiVersion?.includes('/') ? object.apiVersion.split('/')[0] : ''
  return `${kind}${group ? `.${group}` : ''}/${object.metadata?.name ?? ''}`
}

/** kubectl's --dry-run: none writes; client contacts nothing; server lets the API server validate and store nothing. */
export type DryRun = 'none' | 'client' | 'server'

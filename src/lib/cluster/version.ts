import type {KubeClient} from './kube-client.js'

/** A Kubernetes version as its parts: `v1.27.3`, `v1.29.4-eks-036c24b`, `1.30`. */
export interface KubeVersion {
  major: number
  minor: number
  patch: number
}

/** The one parser of Kubernetes version strings (gitVersion, an image tag); undefined when it is not one. */
export function parseKubeVersion(text: string): KubeVersion | undefined {
  const match = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim())
  return match ? {major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0)} : undefined
}

/** `version` is before `major.minor.patch`. */
export function versionBefore(version: KubeVersion, major: number, minor: number, patch = 0): boolean {
  if (version.major !== major) return version.major < major
  if (version.minor !== minor) return version.minor < minor
  return version.patch < patch
}

/**
 * The API server's version (`/version`). Parsed from gitVersion: the separate major/minor fields
 * carry suffixes on some distributions ("27+").
 */
export async function serverVersion(client: KubeClient): Promise<KubeVersion & {gitVersion: string}> {
  const {VersionApi} = await import('./client-node.js')
  const info = await client.call({verb: 'get', resource: 'version'}, () => client.api(VersionApi).getCode())
  const parsed = parseKubeVersion(info.gitVersion) ?? {
    major: Number.parseInt(info.major, 10),
    minor: Number.parseInt(info.minor, 10),
    patch: 0,
  }
  return {gitVersion: info.gitVersion, ...parsed}
}

import {limitConcurrency} from '../concurrency.js'
import {safeErrorMessage} from '../describe-error.js'
import {credentialForImage, type DockerCredential} from '../image/docker-config.js'
import {type ImageReference, parseImageReference} from '../image/image-reference.js'
import type {ScalarLocation} from './manifest-files.js'
import type {RegistryConnection} from '../image/registry-client.js'

/**
 * The pinned form of an image: `repo:tag@sha256:…` for a version tag, `repo@sha256:…` when the
 * tag was latest or absent (keeping "latest" next to a digest would only mislead).
 */
export function pinnedImage(image: string, reference: ImageReference, digest: string): string {
  const at = image.indexOf('@')
  const withoutDigest = at >= 0 ? image.slice(0, at) : image
  if (!reference.tag || reference.tag === 'latest') {
    const name = reference.tag ? withoutDigest.slice(0, withoutDigest.length - reference.tag.length - 1) : withoutDigest
    return `${name}@${digest}`
  }
  return `${withoutDigest}@${digest}`
}

function renderScalar(value: string, style: ScalarLocation['style']): string {
  if (style === 'double') return JSON.stringify(value)
  if (style === 'single') return `'${value.replaceAll("'", "''")}'`
  return value
}

/** Apply scalar replacements to a file's text, touching no other byte. */
export function applyScalarEdits(text: string, edits: Array<{location: ScalarLocation; value: string}>): string {
  let result = text
  const sorted = [...edits].sort((a, b) => b.location.start - a.location.start)
  let previousStart = Number.POSITIVE_INFINITY
  for (const {location, value} of sorted) {
    // The same node can be reached twice (a YAML alias); edit it once.
    if (location.start === previousStart) continue
    previousStart = location.start
    result = result.slice(0, location.start) + renderScalar(value, location.style) + result.slice(location.end)
  }
  return result
}

/** The key a tag is resolved under: `registry/repository:tag`. */
export function tagKey(reference: ImageReference): string {
  return `${reference.registry}/${reference.repository}:${reference.tag ?? 'latest'}`
}

/**
 * Ask the registries which digest each distinct tag points to now (at most `concurrency` at a
 * time). Failures are collected per tag, never thrown: one unreachable registry does not stop
 * the others.
 */
export async function resolveDigests(
  images: Array<{image: string; credentials?: DockerCredential[]}>,
  connection: RegistryConnection,
  concurrency = 4,
): Promise<{digests: Map<string, string>; failures: string[]}> {
  const {resolveTagDigest} = await import('../image/registry-client.js')
  const pending = new Map<string, {reference: ImageReference; credentials?: DockerCredential[]}>()
  for (const {image, credentials} of images) {
    let reference: ImageReference
    try {
      reference = parseImageReference(image)
    } catch {
      continue
    }
    if (reference.digest) continue
    const key = tagKey(reference)
    if (!pending.has(key)) pending.set(key, {reference, credentials})
  }
  const digests = new Map<string, string>()
  const failures: string[] = []
  const limit = limitConcurrency(concurrency)
  await Promise.all(
    [...pending].map(([key, {reference, credentials}]) =>
      limit(async () => {
        const credential = credentials && credentialForImage(credentials, reference)
        try {
          const tag = reference.tag ?? 'latest'
          const digest = await resolveTagDigest(
            {registry: reference.registry, repository: reference.repository, tag},
            connection,
            credential,
          )
          digests.set(key, digest)
        } catch (error) {
          failures.push(safeErrorMessage(error))
        }
      }),
    ),
  )
  return {digests, failures}
}

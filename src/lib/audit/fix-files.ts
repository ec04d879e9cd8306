import {mkdirSync} from 'node:fs'
import path from 'node:path'

import type {AuditInput} from './audit.js'
import {writeFileAtomic} from '../atomic-write.js'
import {backupFile} from '../controlplane/backups.js'
import {parseImageReference} from '../image/image-reference.js'
import type {ScalarLocation} from './manifest-files.js'
import {applyScalarEdits, pinnedImage, tagKey} from './pin-images.js'

/** What `--fix` does with the files: copies under `dir`, or the originals after a backup. */
export interface FixOptions {
  dir: string
  inPlace: boolean
  backupDir: string
}

/** The digest a tag points to now (from --resolve-digests), or undefined for an image pinned already or not resolved. */
export function digestFor(digests: Map<string, string>, image: string): string | undefined {
  try {
    const reference = parseImageReference(image)
    return reference.digest ? undefined : digests.get(tagKey(reference))
  } catch {
    return undefined
  }
}

/**
 * Pin every resolved image in the manifest files, changing only the image scalars' bytes.
 * Copies go under `fix.dir` (mirroring the paths); with `inPlace` the originals are backed up
 * and replaced atomically.
 */
export function writePinnedManifests(
  input: AuditInput,
  texts: Map<string, string>,
  digests: Map<string, string>,
  fix: FixOptions,
  notices: string[],
): string[] {
  const edits = new Map<string, Array<{location: ScalarLocation; value: string}>>()
  for (const {manifest, targets} of input.workloads) {
    if (!manifest) continue
    for (const {image, imagePath, container} of targets) {
      if (typeof container.image !== 'string') continue
      const digest = digestFor(digests, image)
      if (!digest) continue
      const location = manifest.scalarAt(imagePath)
      if (!location || location.style === 'other') {
        notices.push(`${manifest.file}: ${image} is not a plain or quoted scalar; pin it by hand`)
        continue
      }
      edits.set(manifest.file, [
        ...(edits.get(manifest.file) ?? []),
        {location, value: pinnedImage(image, parseImageReference(image), digest)},
      ])
    }
  }
  const changes: string[] = []
  for (const [file, fileEdits] of edits) {
    if (file === '<stdin>') {
      notices.push('--fix cannot write back to standard input; pass the files with -f FILE')
      continue
    }
    const text = applyScalarEdits(texts.get(file)!, fileEdits)
    if (fix.inPlace) {
      const record = backupFile(file, fix.backupDir, 'kubectl imgsec audit images --fix --in-place')
      writeFileAtomic(file, text)
      changes.push(
        `pinned ${fileEdits.length} image${fileEdits.length === 1 ? '' : 's'} in ${file} (backup: ${record.backup})`,
      )
    } else {
      const relative = path.relative(process.cwd(), path.resolve(file))
      const target = path.join(
        fix.dir,
        relative.startsWith('..') ? path.resolve(file).slice(path.parse(path.resolve(file)).root.length) : relative,
      )
      mkdirSync(path.dirname(target), {recursive: true})
      writeFileAtomic(target, text)
      changes.push(`pinned ${fileEdits.length} image${fileEdits.length === 1 ? '' : 's'}: ${file} → ${target}`)
    }
  }
  return changes
}

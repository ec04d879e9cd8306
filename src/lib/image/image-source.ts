// Where an image's manifest and blobs come from: a registry (with the Docker Registry v2 auth
// flow, one token per repository reused for every blob) or an archive (see image-archive.ts).
import {createHash} from 'node:crypto'
import {Transform, type Readable} from 'node:stream'

import {UserError} from '../errors.js'
import {describeNetworkError} from '../network-errors.js'
import type {ImageReference} from './image-reference.js'
import {
  authorizedRequest,
  MANIFEST_ACCEPT,
  reachableEndpoint,
  type RegistryConnection,
  type RegistryCredentials,
} from './registry-client.js'
import {openStream, withDeadline} from './registry-http.js'

export interface ManifestText {
  text: string
  contentType?: string
  /** sha256 of the manifest bytes. */
  digest: string
}

/** What the inspection reads: a manifest by tag or digest, a blob by digest (verified as it streams). */
export interface ImageSource {
  /** How messages name the image. */
  readonly name: string
  manifest(reference?: string): Promise<ManifestText>
  blob(digest: string): Promise<Readable>
}

export const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`

/** A pass-through that fails at the end when the bytes do not hash to `digest`. */
export function verifyingDigest(digest: string, what: string): Transform {
  const hash = createHash('sha256')
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      done(null, chunk)
    },
    flush(done) {
      const actual = `sha256:${hash.digest('hex')}`
      done(
        actual === digest ? null : new UserError(`${what}: blob ${digest} does not match its digest (got ${actual})`),
      )
    },
  })
}

const MAX_MANIFEST_BYTES = 1024 * 1024

function refused(name: string, credentials: RegistryCredentials | undefined, status: number): UserError {
  const who = credentials ? `user "${credentials.username}"` : 'anonymous access'
  return new UserError(
    `cannot read ${name}: the registry refused ${who} (HTTP ${status}); give credentials with --docker-config or a pull secret`,
  )
}

/** An image in a registry, read with one credential (or none). */
export function registrySource(
  image: ImageReference,
  connection: RegistryConnection,
  credentials?: RegistryCredentials,
): ImageSource {
  const name = `${image.registry}/${image.repository}`
  const scope = `repository:${image.repository}:pull`
  let authorization: string | undefined
  let base: Promise<URL> | undefined
  const endpoint = () => (base ??= reachableEndpoint(image.registry, withDeadline(connection)))

  async function authorize(url: URL, method: string, accept?: string) {
    const answer = await authorizedRequest(url, withDeadline(connection), credentials, {method, accept, scope})
    if (answer.tokenStatus !== undefined) throw refused(name, credentials, answer.tokenStatus)
    if (answer.authorization) authorization = answer.authorization
    return answer.response
  }

  return {
    name,
    async manifest(reference = image.digest ?? image.tag ?? 'latest') {
      const url = new URL(`${image.repository}/manifests/${encodeURIComponent(reference)}`, await endpoint())
      const response = await authorize(url, 'GET', MANIFEST_ACCEPT)
      if (response.status === 404)
        throw new UserError(`cannot read ${name}:${reference}: the registry has no such manifest`)
      if (response.status === 401 || response.status === 403) throw refused(name, credentials, response.status)
      if (response.status !== 200)
        throw new UserError(`cannot read ${name}:${reference}: the registry answered HTTP ${response.status}`)
      if (Buffer.byteLength(response.body) >= MAX_MANIFEST_BYTES)
        throw new UserError(`cannot read ${name}:${reference}: the manifest is over 1 MiB`)
      const contentType = response.headers['content-type']
      return {text: response.body, contentType, digest: sha256(response.body)}
    },
    async blob(digest) {
      const url = new URL(`${image.repository}/blobs/${digest}`, await endpoint())
      const open = async () => {
        try {
          return await openStream(url, {...connection, headers: authorization ? {authorization} : {}})
        } catch (error) {
          if (error instanceof UserError) throw error
          throw new UserError(
            describeNetworkError(error, url.origin, 'the registry') ?? `reading ${name} blob ${digest} failed`,
            {cause: error},
          )
        }
      }
      let response = await open()
      if (response.status === 401) {
        // No token yet (or it expired): go through the auth flow once more.
        response.body.resume()
        await authorize(url, 'HEAD')
        response = await open()
      }
      if (response.status !== 200) {
        response.body.resume()
        if (response.status === 401 || response.status === 403) throw refused(name, credentials, response.status)
        throw new UserError(`cannot read ${name} blob ${digest}: the registry answered HTTP ${response.status}`)
      }
      const verified = verifyingDigest(digest, name)
      response.body.on('error', (error) => verified.destroy(error))
      return response.body.pipe(verified)
    },
  }
}

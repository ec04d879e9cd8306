// Where an image's manifest and blobs come from: a registry (with the Docker Registry v2 auth
// flow, one token per repository reused for every request) or an archive (see image-archive.ts).
// registry-content.ts reads signatures' content through the same registry source.
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
import {fetchRegistry, type HttpResponse, openStream, withDeadline} from './registry-http.js'

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

/** A registry image source that also reads any path of its repository (signatures: referrers, small blobs). */
export interface RegistrySource extends ImageSource {
  /**
   * GET `<repository>/<path>` with the repository's token (fetched once, renewed on 401); the
   * answer is buffered (bounded to 1 MiB) and returned whatever its status, except a refusal.
   */
  read(path: string, accept?: string): Promise<HttpResponse>
}

/**
 * An image in a registry, read with one credential (or none). `credentialsHint` names where
 * credentials come from in the refusal messages.
 */
export function registrySource(
  image: Pick<ImageReference, 'registry' | 'repository' | 'tag' | 'digest'>,
  connection: RegistryConnection,
  credentials?: RegistryCredentials,
  credentialsHint = '--docker-config or a pull secret',
): RegistrySource {
  const name = `${image.registry}/${image.repository}`
  const scope = `repository:${image.repository}:pull`
  let authorization: string | undefined
  let base: Promise<URL> | undefined
  const endpoint = () => (base ??= reachableEndpoint(image.registry, withDeadline(connection)))

  const refused = (status: number, by = 'the registry') =>
    new UserError(
      `cannot read ${name}: ${by} refused ${credentials ? `user "${credentials.username}"` : 'anonymous access'} (HTTP ${status}); give credentials with ${credentialsHint}`,
    )

  async function authorize(url: URL, method: string, accept?: string) {
    const answer = await authorizedRequest(url, withDeadline(connection), credentials, {method, accept, scope})
    if (answer.tokenStatus !== undefined) throw refused(answer.tokenStatus, "the registry's token service")
    if (answer.authorization) authorization = answer.authorization
    return answer.response
  }

  async function read(path: string, accept?: string): Promise<HttpResponse> {
    const url = new URL(`${image.repository}/${path}`, await endpoint())
    let response: HttpResponse | undefined
    if (authorization) {
      const headers = {...(accept ? {accept} : {}), authorization}
      response = await fetchRegistry(url, withDeadline(connection), 'the registry', headers)
    }
    // No token yet (or it expired): go through the auth flow.
    if (!response || response.status === 401) response = await authorize(url, 'GET', accept)
    if (response.status === 401 || response.status === 403) throw refused(response.status)
    return response
  }

  return {
    name,
    read,
    async manifest(reference = image.digest ?? image.tag ?? 'latest') {
      const response = await read(`manifests/${encodeURIComponent(reference)}`, MANIFEST_ACCEPT)
      if (response.status === 404)
        throw new UserError(`cannot read ${name}:${reference}: the registry has no such manifest`)
      if (response.status !== 200)
        throw new UserError(`cannot read ${name}:${reference}: the registry answered HTTP ${response.status}`)
      if (response.bytes.length >= MAX_MANIFEST_BYTES)
        throw new UserError(`cannot read ${name}:${reference}: the manifest is over 1 MiB`)
      const contentType = response.headers['content-type']
      return {text: response.body, contentType, digest: sha256(response.bytes)}
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
        if (response.status === 401 || response.status === 403) throw refused(response.status)
        throw new UserError(`cannot read ${name} blob ${digest}: the registry answered HTTP ${response.status}`)
      }
      const verified = verifyingDigest(digest, name)
      response.body.on('error', (error) => verified.destroy(error))
      return response.body.pipe(verified)
    },
  }
}

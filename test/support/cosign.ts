// Signing images for the tests. With the real cosign (built from Go modules by
// `npm run cosign:build` into the cache, see test/cosign/build.ts) the tests sign exactly as users
// do; without it (a machine without Go) they write cosign's tag scheme themselves with node:crypto
// and say so loudly — under CI a missing cosign is a failure.
import {execFile} from 'node:child_process'
import {createHash, generateKeyPairSync, type KeyObject, sign as cryptoSign} from 'node:crypto'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {cosignBinaryPath} from '../cosign/binary.js'
import type {Credentials, RunningRegistry} from './registry.js'

const execFileAsync = promisify(execFile)

let warned = false

/** The cosign binary, or undefined (and a loud warning once; a failure under CI). */
export function cosignBinary(): string | undefined {
  const path = cosignBinaryPath()
  if (existsSync(path)) return path
  if (process.env.CI) throw new Error(`cosign is not built (${path}): run npm run cosign:build`)
  if (!warned) {
    warned = true
    process.stderr.write(
      `\n########\n# cosign is not built (${path}): signature tests sign with node:crypto in cosign's format\n# instead of the real cosign. Run npm run cosign:build (needs Go).\n########\n`,
    )
  }
  return undefined
}

export interface TestKeyPair {
  /** The public key file (cosign.pub). */
  publicKeyFile: string
  /** cosign.key (encrypted, cosign's format) when made by cosign; else the private KeyObject. */
  privateKeyFile?: string
  privateKey?: KeyObject
  password: string
}

/**
 * A key pair in `dir`/<name>.{key,pub}: `cosign generate-key-pair` (ECDSA P-256) when cosign is
 * built and `type` is the default; else node:crypto (Ed25519, RSA, or P-256 without cosign).
 */
export async function generateKeyPair(
  dir: string,
  name: string,
  type: 'ecdsa-p256' | 'ed25519' | 'rsa' = 'ecdsa-p256',
): Promise<TestKeyPair> {
  const password = `pw-${name}-canary`
  const cosign = cosignBinary()
  if (cosign && type === 'ecdsa-p256') {
    await execFileAsync(cosign, ['generate-key-pair', `--output-key-prefix=${join(dir, name)}`], {
      env: {...process.env, COSIGN_PASSWORD: password},
    })
    return {publicKeyFile: join(dir, `${name}.pub`), privateKeyFile: join(dir, `${name}.key`), password}
  }
  const pair =
    type === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : type === 'rsa'
        ? generateKeyPairSync('rsa', {modulusLength: 2048})
        : generateKeyPairSync('ec', {namedCurve: 'prime256v1'})
  const publicKeyFile = join(dir, `${name}.pub`)
  writeFileSync(publicKeyFile, pair.publicKey.export({type: 'spki', format: 'pem'}))
  return {publicKeyFile, privateKey: pair.privateKey, password}
}

/** The simple-signing payload cosign signs for `registry/repository@digest`. */
export function simpleSigningPayload(reference: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: {'docker-reference': reference},
        image: {'docker-manifest-digest': digest},
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  )
}

/** Put a cosign tag-scheme signature manifest (`sha256-<hex>.sig`) with these layers. */
export async function pushTagSignature(
  registry: RunningRegistry,
  repository: string,
  digest: string,
  layers: Array<{payload: Buffer; signature: Buffer | string}>,
  credentials?: Credentials,
): Promise<void> {
  const config = Buffer.from('{}')
  const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: sha(config)},
    layers: layers.map(({payload, signature}) => ({
      mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      size: payload.length,
      digest: sha(payload),
      annotations: {
        'dev.cosignproject.cosign/signature': typeof signature === 'string' ? signature : signature.toString('base64'),
      },
    })),
  }
  await registry.pushManifest(
    repository,
    `${digest.replace(':', '-')}.sig`,
    {
      bytes: Buffer.from(JSON.stringify(manifest)),
      mediaType: manifest.mediaType,
      blobs: [config, ...layers.map((layer) => layer.payload)],
    },
    credentials,
  )
}

/**
 * Sign `registry.host/repository@digest` with `key`: `cosign sign --key --tlog-upload=false` when
 * the key was made by cosign, else a node:crypto signature over the same payload in the same place.
 */
export async function signImage(
  registry: RunningRegistry,
  repository: string,
  digest: string,
  key: TestKeyPair,
  credentials?: Credentials,
): Promise<void> {
  const reference = `${registry.host}/${repository}`
  const cosign = cosignBinary()
  if (cosign && key.privateKeyFile) {
    const env: NodeJS.ProcessEnv = {...process.env, COSIGN_PASSWORD: key.password, COSIGN_YES: 'true'}
    const args = ['sign', '--key', key.privateKeyFile, '--tlog-upload=false', `${reference}@${digest}`]
    if (credentials)
      args.splice(1, 0, '--registry-username', credentials.username, '--registry-password', credentials.password)
    await execFileAsync(cosign, args, {env, timeout: 60_000})
    return
  }
  if (!key.privateKey) throw new Error('signImage: a cosign key pair needs the cosign binary')
  const payload = simpleSigningPayload(reference, digest)
  const algorithm = key.privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256'
  await pushTagSignature(
    registry,
    repository,
    digest,
    [{payload, signature: cryptoSign(algorithm, payload, key.privateKey)}],
    credentials,
  )
}

/**
 * Sign as a Sigstore bundle attached through the referrers API (`cosign sign --new-bundle-format`;
 * on a registry without that API cosign writes the `sha256-<hex>` referrers index tag). Needs the
 * real cosign: returns false (the caller skips) without it.
 */
export async function signImageBundle(
  registry: RunningRegistry,
  repository: string,
  digest: string,
  key: TestKeyPair,
): Promise<boolean> {
  const cosign = cosignBinary()
  if (!cosign || !key.privateKeyFile) return false
  const env: NodeJS.ProcessEnv = {...process.env, COSIGN_PASSWORD: key.password, COSIGN_YES: 'true'}
  await execFileAsync(
    cosign,
    [
      'sign',
      '--new-bundle-format',
      '--key',
      key.privateKeyFile,
      '--tlog-upload=false',
      `${registry.host}/${repository}@${digest}`,
    ],
    {env, timeout: 60_000},
  )
  return true
}

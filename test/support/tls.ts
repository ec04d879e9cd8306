// Test-only certificate authority built on the openssl CLI. Node can sign and
// verify, but it cannot create X.509 certificates, and a real CA (rather than a
// self-signed leaf) is what registries, token servers and clients expect.
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {chmod, mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

const execFileAsync = promisify(execFile)

export interface IssuedCert {
  certFile: string
  keyFile: string
  certPem: string
  keyPem: string
}

export interface TestCa {
  dir: string
  caCertFile: string
  caCertPem: string
  /** `organizations` become O= (Kubernetes groups); `file` names the files (default: from the CN). */
  issue(opts: {
    cn: string
    dnsNames?: string[]
    ipAddresses?: string[]
    organizations?: string[]
    file?: string
  }): Promise<IssuedCert>
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, {cwd})
  } catch (error) {
    const e = error as {stderr?: string; message: string}
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`)
  }
}

// A random positive serial: reusing serials under one CA makes some TLS stacks
// treat distinct certificates as the same one.
function serial(): string {
  const bytes = randomBytes(16)
  bytes[0] &= 0x7f
  return '0x' + bytes.toString('hex')
}

function safeName(cn: string): string {
  return cn.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'cert'
}

// openssl config values are not quoted; refusing odd characters keeps a test
// typo from silently producing a certificate with different names.
function checkName(kind: string, value: string): string {
  if (!/^[A-Za-z0-9.*:_-]+$/.test(value))
    throw new Error(`invalid ${kind} for test certificate: ${JSON.stringify(value)}`)
  return value
}

/**
 * A CA in `dir` (default: a new temporary directory). With `reuse`, a CA already in `dir`
 * (ca.crt + ca.key) is used instead of a new one, so a later process can issue more certificates.
 */
export async function createTestCa(dir?: string, options: {reuse?: boolean} = {}): Promise<TestCa> {
  const caDir = dir ?? (await mkdtemp(join(tmpdir(), 'imgsec-test-ca-')))
  const caKeyFile = join(caDir, 'ca.key')
  const caCertFile = join(caDir, 'ca.crt')
  if (!(options.reuse && existsSync(caKeyFile) && existsSync(caCertFile)))
    await openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-sha256',
        '-days',
        '2',
        '-keyout',
        caKeyFile,
        '-out',
        caCertFile,
        '-subj',
        '/O=kubectl-imgsec tests/CN=kubectl-imgsec test CA',
        '-set_serial',
        serial(),
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-addext',
        'subjectKeyIdentifier=hash',
      ],
      caDir,
    )
  await chmod(caKeyFile, 0o600)
  const caCertPem = await readFile(caCertFile, 'utf8')
  let counter = 0

  return {
    dir: caDir,
    caCertFile,
    caCertPem,
    async issue({cn, dnsNames = [], ipAddresses = [], organizations = [], file}) {
      const base = file ? join(caDir, file) : join(caDir, `${safeName(cn)}-${++counter}`)
      const keyFile = `${base}.key`
      const csrFile = `${base}.csr`
      const certFile = `${base}.crt`
      const extFile = `${base}.ext`
      const sans = [
        ...dnsNames.map((n) => `DNS:${checkName('DNS name', n)}`),
        ...ipAddresses.map((ip) => `IP:${checkName('IP address', ip)}`),
      ]
      const ext = [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        'authorityKeyIdentifier=keyid',
        'subjectKeyIdentifier=hash',
        ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
      ]
      await writeFile(extFile, ext.join('\n') + '\n')
      await openssl(
        [
          'req',
          '-new',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          keyFile,
          '-out',
          csrFile,
          '-subj',
          `${organizations.map((o) => `/O=${checkName('organization', o)}`).join('')}/CN=${cn.replace(/[/\\]/g, '_')}`,
        ],
        caDir,
      )
      await chmod(keyFile, 0o600)
      await openssl(
        [
          'x509',
          '-req',
          '-sha256',
          '-days',
          '2',
          '-in',
          csrFile,
          '-CA',
          caCertFile,
          '-CAkey',
          caKeyFile,
          '-set_serial',
          serial(),
          '-extfile',
          extFile,
          '-out',
          certFile,
        ],
        caDir,
      )
      const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')])
      return {certFile, keyFile, certPem, keyPem}
    },
  }
}

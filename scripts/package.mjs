#!/usr/bin/env node
// Builds the release archive offline and reproducibly: a single-file bundle of the CLI plus a
// launcher (node on PATH), the backend bundle, LICENSE and README; writes its sha256 into
// plugin.yaml (krew). Run with `npm run package` (which builds first).
import {createHash} from 'node:crypto'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {gzipSync} from 'node:zlib'
import {build} from 'esbuild'
import {parseDocument} from 'yaml'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
// --out DIR (default release/) and --plugin FILE (default plugin.yaml) let tests build elsewhere.
const option = (name, fallback) => {
  const index = process.argv.indexOf(name)
  return index >= 0 ? path.resolve(process.argv[index + 1]) : fallback
}
const out = option('--out', path.join(root, 'release'))
mkdirSync(out, {recursive: true})

const bundle = await build({
  entryPoints: [path.join(root, 'src', 'commands-index.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
  // oclif reads a tsconfig.json with typescript only for a plugin under development (never in a
  // release: NODE_ENV is not development or test, and the CLI is ESM); it catches a missing one.
  // Left out, the bundle is 3.5 MB smaller, and so faster to start.
  external: ['typescript'],
  // Bundled CommonJS code calls require() for Node built-ins.
  banner: {
    js: "import {createRequire as __imgsecRequire} from 'node:module'; const require = __imgsecRequire(import.meta.url);",
  },
})

const launcher = `#!/usr/bin/env node
// kubectl runs this as "kubectl imgsec …". Needs Node.js ${pkg.engines.node} on PATH.
import {readFileSync} from 'node:fs'
const args = process.argv.slice(2)
if (args.length === 1 && args[0] === '--version') {
  const {version} = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))
  process.stdout.write(\`kubectl-imgsec/\${version} \${process.platform}-\${process.arch} node-\${process.version}\\n\`)
  process.exit(0)
}
if (args.length === 0) {
  if (process.stdin.isTTY && process.stdout.isTTY) args.push('wizard')
  else {
    args.push('--help')
    process.exitCode = 1
  }
}
const cli = await import('./kubectl-imgsec.mjs')
await cli.run(args, new URL('./kubectl-imgsec.mjs', import.meta.url).href)
`

const releasePackage = {
  name: pkg.name,
  version: pkg.version,
  license: pkg.license,
  type: 'module',
  engines: pkg.engines,
  oclif: {...pkg.oclif, commands: {strategy: 'explicit', target: './kubectl-imgsec.mjs', identifier: 'COMMANDS'}},
}

const files = [
  ['kubectl-imgsec', Buffer.from(launcher), 0o755],
  ['kubectl-imgsec.mjs', Buffer.from(bundle.outputFiles[0].contents), 0o644],
  ['imgsec-webhook.mjs', readFileSync(path.join(root, 'dist', 'imgsec-webhook.mjs')), 0o644],
  ['oclif.manifest.json', readFileSync(path.join(root, 'oclif.manifest.json')), 0o644],
  ['package.json', Buffer.from(JSON.stringify(releasePackage, null, 2) + '\n'), 0o644],
  ['LICENSE', readFileSync(path.join(root, 'LICENSE')), 0o644],
  ['README.md', readFileSync(path.join(root, 'README.md')), 0o644],
].sort(([a], [b]) => (a < b ? -1 : 1))

/** A POSIX ustar archive with fixed owner, time and order: the same input gives the same bytes. */
function tar(entries) {
  const blocks = []
  for (const [name, content, mode] of entries) {
    const header = Buffer.alloc(512)
    header.write(name, 0, 100, 'utf8')
    header.write(mode.toString(8).padStart(7, '0') + '\0', 100)
    header.write('0000000\0', 108)
    header.write('0000000\0', 116)
    header.write(content.length.toString(8).padStart(11, '0') + '\0', 124)
    header.write('00000000000\0', 136)
    header.write('        ', 148)
    header.write('0', 156)
    header.write('ustar\0' + '00', 257)
    let sum = 0
    for (const byte of header) sum += byte
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
    blocks.push(header, content, Buffer.alloc((512 - (content.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

const archiveName = `kubectl-imgsec-v${pkg.version}.tar.gz`
const archive = gzipSync(tar(files), {level: 9})
writeFileSync(path.join(out, archiveName), archive)
const sha256 = createHash('sha256').update(archive).digest('hex')

// linux-amd64 also gets a standalone executable (Node's single-executable application support,
// from this machine's node; nothing is downloaded): no Node.js needed on PATH.
let sea
if (process.platform === 'linux' && process.arch === 'x64') {
  const {execFileSync} = await import('node:child_process')
  const {copyFileSync, chmodSync, mkdtempSync, rmSync} = await import('node:fs')
  const {tmpdir} = await import('node:os')
  const work = mkdtempSync(path.join(tmpdir(), 'imgsec-sea-'))
  const cjs = await build({
    entryPoints: [path.join(root, 'src', 'commands-index.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'error',
    external: ['typescript'],
    define: {'import.meta.url': '__imgsecUrl'},
    banner: {js: "const __imgsecUrl = require('node:url').pathToFileURL(__filename).href;"},
  })
  const cjsBytes = Buffer.from(cjs.outputFiles[0].contents)
  const assets = {
    'kubectl-imgsec.cjs': cjsBytes,
    'package.json': Buffer.from(
      JSON.stringify(
        {
          ...releasePackage,
          type: 'commonjs',
          oclif: {
            ...releasePackage.oclif,
            commands: {strategy: 'explicit', target: './kubectl-imgsec.cjs', identifier: 'COMMANDS'},
          },
        },
        null,
        2,
      ) + '\n',
    ),
    'oclif.manifest.json': readFileSync(path.join(root, 'oclif.manifest.json')),
    'imgsec-webhook.mjs': readFileSync(path.join(root, 'dist', 'imgsec-webhook.mjs')),
  }
  const key = `${pkg.version}-${createHash('sha256')
    .update(Buffer.concat(Object.values(assets)))
    .digest('hex')
    .slice(0, 16)}`
  const config = {
    main: path.join(root, 'scripts', 'sea-main.cjs'),
    output: path.join(work, 'sea.blob'),
    disableExperimentalSEAWarning: true,
    useCodeCache: false,
    assets: {key: path.join(work, 'key')},
  }
  writeFileSync(path.join(work, 'key'), key)
  for (const [name, bytes] of Object.entries(assets)) {
    writeFileSync(path.join(work, name), bytes)
    config.assets[name] = path.join(work, name)
  }
  writeFileSync(path.join(work, 'sea-config.json'), JSON.stringify(config))
  execFileSync(process.execPath, ['--experimental-sea-config', path.join(work, 'sea-config.json')], {stdio: 'ignore'})
  const exe = path.join(work, 'kubectl-imgsec')
  copyFileSync(process.execPath, exe)
  chmodSync(exe, 0o755)
  execFileSync(
    process.execPath,
    [
      path.join(root, 'node_modules', 'postject', 'dist', 'cli.js'),
      exe,
      'NODE_SEA_BLOB',
      path.join(work, 'sea.blob'),
      '--sentinel-fuse',
      'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
    ],
    {stdio: 'ignore'},
  )
  const seaName = `kubectl-imgsec-v${pkg.version}-linux-amd64.tar.gz`
  const seaArchive = gzipSync(
    tar([
      ['LICENSE', readFileSync(path.join(root, 'LICENSE')), 0o644],
      ['kubectl-imgsec', readFileSync(exe), 0o755],
    ]),
    {level: 6},
  )
  writeFileSync(path.join(out, seaName), seaArchive)
  sea = {name: seaName, sha256: createHash('sha256').update(seaArchive).digest('hex')}
  rmSync(work, {recursive: true, force: true})
  process.stdout.write(
    `${path.join(out, seaName)} sha256 ${sea.sha256} (${(seaArchive.length / 1024 / 1024).toFixed(1)} MiB, standalone)\n`,
  )
}

// plugin.yaml: linux-amd64 gets the standalone executable (when built here), every other platform
// the JavaScript bundle that runs with node on PATH.
const pluginFile = option('--plugin', path.join(root, 'plugin.yaml'))
const manifest = parseDocument(readFileSync(pluginFile, 'utf8'))
manifest.setIn(['spec', 'version'], `v${pkg.version}`)
for (const platform of manifest.getIn(['spec', 'platforms']).items) {
  const labels = platform.getIn(['selector', 'matchLabels']).toJSON()
  const file = sea && labels.os === 'linux' && labels.arch === 'amd64' ? sea : {name: archiveName, sha256}
  platform.set(
    'uri',
    String(platform.get('uri')).replace(/\/download\/[^/]+\/[^/]+$/, `/download/v${pkg.version}/${file.name}`),
  )
  platform.set('sha256', file.sha256)
}
const plugin = manifest.toString({indentSeq: false, lineWidth: 0})
writeFileSync(pluginFile, plugin)
process.stdout.write(
  `${path.join(out, archiveName)} sha256 ${sha256} (${(archive.length / 1024 / 1024).toFixed(1)} MiB)\n`,
)

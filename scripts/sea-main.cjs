// Entry of the standalone linux-amd64 executable (Node's single-executable application). Inside a
// SEA, require() loads only built-ins, so the CLI bundle travels as an asset: it is written once
// to a cache directory keyed by version and content, then loaded with a real require from there.
const sea = require('node:sea')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const {createRequire} = require('node:module')
const {pathToFileURL} = require('node:url')

const key = sea.getAsset('key', 'utf8')
const args = process.argv.slice(2)
if (args.length === 1 && args[0] === '--version') {
  process.stdout.write(
    `kubectl-imgsec/${key.split('-')[0]} ${process.platform}-${process.arch} node-${process.version}\n`,
  )
  process.exit(0)
}
if (args.length === 0) {
  if (process.stdin.isTTY && process.stdout.isTTY) args.push('wizard')
  else {
    args.push('--help')
    process.exitCode = 1
  }
}
const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
const dir = path.join(base, 'kubectl-imgsec', key)
if (!fs.existsSync(path.join(dir, '.complete'))) {
  fs.mkdirSync(dir, {recursive: true, mode: 0o700})
  for (const name of ['kubectl-imgsec.cjs', 'package.json', 'oclif.manifest.json', 'imgsec-webhook.mjs']) {
    const temp = path.join(dir, `.${name}.${process.pid}.tmp`)
    fs.writeFileSync(temp, Buffer.from(sea.getAsset(name)))
    fs.renameSync(temp, path.join(dir, name))
  }
  fs.writeFileSync(path.join(dir, '.complete'), '')
}
const bundle = path.join(dir, 'kubectl-imgsec.cjs')
createRequire(bundle)(bundle).run(args, pathToFileURL(bundle).href)

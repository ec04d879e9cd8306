import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync} from 'node:fs'
import {createHash} from 'node:crypto'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {KUBECTL, ROOT, runProgram} from '../support/cli.js'

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    createReadStream(file).on('data', (chunk) => hash.update(chunk)).on('end', () => resolve(hash.digest('hex'))).on('error', reject)
  })
}

/** krew's manifest rules (krew-index validation), as far as they can be checked offline. */
function krewProblems(plugin: any, fileBaseName: string, archiveEntries: string[]): string[] {
  const problems: string[] = []
  if (plugin.apiVersion !== 'krew.googlecontainertools.github.com/v1alpha2') problems.push('apiVersion')
  if (plugin.kind !== 'Plugin') problems.push('kind')
  const name = plugin.metadata?.name
  if (!/^[\w-]+$/.test(name ?? '')) problems.push('metadata.name must match ^[\\w-]+$')
  if (name !== fileBaseName) problems.push(`metadata.name ${name} must equal the manifest's base name ${fileBaseName}`)
  if (!/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(plugin.spec?.version ?? '')) problems.push('spec.version must be semver with a leading v')
  if (!plugin.spec?.shortDescription || plugin.spec.shortDescription.includes('\n')) problems.push('shortDescription must be one line')
  if (!/^https:\/\//.test(plugin.spec?.homepage ?? '')) problems.push('homepage must be https')
  const seen = new Set<string>()
  for (const [i, platform] of (plugin.spec?.platforms ?? []).entries()) {
    const labels = platform.selector?.matchLabels ?? {}
    if (Object.keys(labels).some((key) => key !== 'os' && key !== 'arch') || platform.selector?.matchExpressions) problems.push(`platforms[${i}]: selectors may use only os and arch`)
    const key = `${labels.os}/${labels.arch}`
    if (seen.has(key)) problems.push(`platforms[${i}]: ${key} overlaps another platform`)
    seen.add(key)
    if (!/^[0-9a-f]{64}$/.test(platform.sha256 ?? '')) problems.push(`platforms[${i}]: sha256 must be 64 lowercase hex`)
    if (!/^https:\/\//.test(platform.uri ?? '')) problems.push(`platforms[${i}]: uri must be https`)
    if (!/\.(tar\.gz|zip)$/.test(platform.uri ?? '')) problems.push(`platforms[${i}]: uri must be a .tar.gz or .zip`)
    if (!archiveEntries.includes(platform.bin)) problems.push(`platforms[${i}]: bin ${platform.bin} is not in the archive`)
    if (labels.os === 'windows' && !String(platform.bin).endsWith('.exe')) problems.push(`platforms[${i}]: windows entrypoints must end in .exe`)
  }
  if (seen.size === 0) problems.push('no platforms')
  if (!archiveEntries.includes('LICENSE')) problems.push('the archive must contain a LICENSE')
  return problems
}

describe('krew distribution (npm run package)', function () {
  this.timeout(120_000)
  let dir: string
  let archive: string
  let plugin: any
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-krew-'))
    const pluginCopy = path.join(dir, 'imgsec.yaml')
    copyFileSync(path.join(ROOT, 'plugin.yaml'), pluginCopy)
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'package.mjs'), '--out', path.join(dir, 'out'), '--plugin', pluginCopy], {encoding: 'utf8'})
    archive = path.join(dir, 'out', readdirSync(path.join(dir, 'out'))[0])
    plugin = parseYaml(readFileSync(pluginCopy, 'utf8'))
  })

  it('the archive is reproducible and its sha256 is written into the manifest', async () => {
    const first = await sha256(archive)
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'package.mjs'), '--out', path.join(dir, 'again'), '--plugin', path.join(dir, 'imgsec.yaml')])
    expect(await sha256(path.join(dir, 'again', path.basename(archive)))).to.equal(first)
    for (const platform of plugin.spec.platforms) expect(platform.sha256).to.equal(first)
    expect(plugin.spec.version).to.equal(`v${JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}`)
  })

  it('plugin.yaml follows krew\'s manifest rules', () => {
    const entries = execFileSync('tar', ['-tzf', archive], {encoding: 'utf8'}).trim().split('\n')
    expect(krewProblems(plugin, 'imgsec', entries)).to.deep.equal([])
  })

  it('installed as krew does, the real kubectl runs it as "kubectl imgsec"', async () => {
    const install = path.join(dir, 'store')
    mkdirSync(install)
    execFileSync('tar', ['-xzf', archive, '-C', install])
    expect(existsSync(path.join(install, 'LICENSE'))).to.equal(true)
    const bin = path.join(dir, 'bin')
    mkdirSync(bin)
    symlinkSync(path.join(install, plugin.spec.platforms[0].bin), path.join(bin, 'kubectl-imgsec'))
    const env = {PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}/usr/bin:/bin`, HOME: dir, KUBECONFIG: path.join(dir, 'none')}
    const version = await runProgram(KUBECTL, ['imgsec', '--version'], {env})
    expect(version.code, version.stderr).to.equal(0)
    expect(version.stdout).to.match(/^kubectl-imgsec\/\d+\.\d+\.\d+ /)
    const audit = await runProgram(KUBECTL, ['imgsec', 'audit', 'images', '-f', path.join(ROOT, 'examples'), '-o', 'json'], {env})
    expect(audit.code, audit.stderr).to.equal(3)
    expect(JSON.parse(audit.stdout).summary.critical).to.equal(1)
    const secret = await runProgram(KUBECTL, ['imgsec', 'create-regcred', 'regcred', '--docker-server', 'myprivateregistry.com:5000', '--docker-username', 'dock_user', '--docker-password', 'Krew-Pa55', '--dry-run=client', '-o', 'yaml'], {env})
    expect(secret.code, secret.stderr).to.equal(0)
    expect(parseYaml(secret.stdout)).to.deep.include({kind: 'Secret', type: 'kubernetes.io/dockerconfigjson'})
  })
})

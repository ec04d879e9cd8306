import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync} from 'node:fs'
import {createHash} from 'node:crypto'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {KUBECTL, ROOT, runProgram} from '../support/cli.js'

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject)
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
  if (!/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(plugin.spec?.version ?? ''))
    problems.push('spec.version must be semver with a leading v')
  if (!plugin.spec?.shortDescription || plugin.spec.shortDescription.includes('\n'))
    problems.push('shortDescription must be one line')
  if (!/^https:\/\//.test(plugin.spec?.homepage ?? '')) problems.push('homepage must be https')
  const seen = new Set<string>()
  for (const [i, platform] of (plugin.spec?.platforms ?? []).entries()) {
    const labels = platform.selector?.matchLabels ?? {}
    if (Object.keys(labels).some((key) => key !== 'os' && key !== 'arch') || platform.selector?.matchExpressions)
      problems.push(`platforms[${i}]: selectors may use only os and arch`)
    const key = `${labels.os}/${labels.arch}`
    if (seen.has(key)) problems.push(`platforms[${i}]: ${key} overlaps another platform`)
    seen.add(key)
    if (!/^[0-9a-f]{64}$/.test(platform.sha256 ?? '')) problems.push(`platforms[${i}]: sha256 must be 64 lowercase hex`)
    if (!/^https:\/\//.test(platform.uri ?? '')) problems.push(`platforms[${i}]: uri must be https`)
    if (!/\.(tar\.gz|zip)$/.test(platform.uri ?? '')) problems.push(`platforms[${i}]: uri must be a .tar.gz or .zip`)
    if (!archiveEntries.includes(platform.bin))
      problems.push(`platforms[${i}]: bin ${platform.bin} is not in the archive`)
    if (labels.os === 'windows' && !String(platform.bin).endsWith('.exe'))
      problems.push(`platforms[${i}]: windows entrypoints must end in .exe`)
  }
  if (seen.size === 0) problems.push('no platforms')
  if (!archiveEntries.includes('LICENSE')) problems.push('the archive must contain a LICENSE')
  return problems
}

describe('krew distribution (npm run package)', function () {
  this.timeout(120_000)
  let dir: string
  let plugin: any
  const archiveOf = (platform: {uri: string}) => path.join(dir, 'out', path.basename(platform.uri))
  const platformFor = (os: string, arch: string) =>
    plugin.spec.platforms.find((p: any) => p.selector.matchLabels.os === os && p.selector.matchLabels.arch === arch)
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'imgsec-krew-'))
    const pluginCopy = path.join(dir, 'imgsec.yaml')
    copyFileSync(path.join(ROOT, 'plugin.yaml'), pluginCopy)
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'scripts', 'package.mjs'), '--out', path.join(dir, 'out'), '--plugin', pluginCopy],
      {encoding: 'utf8'},
    )
    plugin = parseYaml(readFileSync(pluginCopy, 'utf8'))
  })

  it('the archives are reproducible and their sha256 are written into the manifest', async () => {
    // Built a second time, elsewhere: the same bytes.
    copyFileSync(path.join(ROOT, 'plugin.yaml'), path.join(dir, 'again.yaml'))
    execFileSync(
      process.execPath,
      [
        path.join(ROOT, 'scripts', 'package.mjs'),
        '--out',
        path.join(dir, 'again'),
        '--plugin',
        path.join(dir, 'again.yaml'),
      ],
      {stdio: 'ignore'},
    )
    for (const platform of plugin.spec.platforms) {
      const archive = archiveOf(platform)
      expect(await sha256(archive), platform.uri).to.equal(platform.sha256)
      expect(await sha256(path.join(dir, 'again', path.basename(archive))), `rebuilt ${platform.uri}`).to.equal(
        platform.sha256,
      )
    }
    expect(plugin.spec.version).to.equal(
      `v${JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}`,
    )
    expect(path.basename(platformFor('linux', 'amd64').uri)).to.match(/-linux-amd64\.tar\.gz$/)
  })

  it("plugin.yaml follows krew's manifest rules", () => {
    for (const platform of plugin.spec.platforms) {
      const entries = execFileSync('tar', ['-tzf', archiveOf(platform)], {encoding: 'utf8'})
        .trim()
        .split('\n')
      expect(
        krewProblems({...plugin, spec: {...plugin.spec, platforms: [platform]}}, 'imgsec', entries),
        platform.uri,
      ).to.deep.equal([])
    }
    expect(krewProblems(plugin, 'imgsec', ['kubectl-imgsec', 'LICENSE'])).to.deep.equal([])
  })

  it('linux-amd64 is a standalone executable: kubectl runs it with no node on PATH', async () => {
    const install = path.join(dir, 'sea-store')
    mkdirSync(install)
    execFileSync('tar', ['-xzf', archiveOf(platformFor('linux', 'amd64')), '-C', install])
    const bin = path.join(dir, 'sea-bin')
    mkdirSync(bin)
    symlinkSync(path.join(install, 'kubectl-imgsec'), path.join(bin, 'kubectl-imgsec'))
    symlinkSync(KUBECTL, path.join(bin, 'kubectl'))
    const env = {PATH: bin, HOME: dir, KUBECONFIG: path.join(dir, 'none')}
    const noNode = await runProgram('/bin/sh', ['-c', 'command -v node || echo none'], {env})
    expect(noNode.stdout.trim()).to.equal('none')
    const version = await runProgram(path.join(bin, 'kubectl'), ['imgsec', '--version'], {env})
    expect(version.code, version.stderr).to.equal(0)
    const audit = await runProgram(
      path.join(bin, 'kubectl'),
      ['imgsec', 'audit', 'images', '-f', path.join(ROOT, 'examples'), '-o', 'json'],
      {env},
    )
    expect(audit.code, audit.stderr).to.equal(3)
    expect(JSON.parse(audit.stdout).summary.critical).to.equal(1)
    const secret = await runProgram(
      path.join(bin, 'kubectl'),
      [
        'imgsec',
        'create-regcred',
        'regcred',
        '--docker-username',
        'dock_user',
        '--docker-password',
        'Sea-Pa55',
        '--dry-run=client',
        '-o',
        'name',
      ],
      {env},
    )
    expect(secret.stdout).to.equal('secret/regcred\n')
  })

  it('the JavaScript archive (every other platform), installed as krew does, runs through the real kubectl with node on PATH', async () => {
    const install = path.join(dir, 'store')
    mkdirSync(install)
    execFileSync('tar', ['-xzf', archiveOf(platformFor('darwin', 'arm64')), '-C', install])
    expect(existsSync(path.join(install, 'LICENSE'))).to.equal(true)
    const bin = path.join(dir, 'bin')
    mkdirSync(bin)
    symlinkSync(path.join(install, plugin.spec.platforms[0].bin), path.join(bin, 'kubectl-imgsec'))
    const env = {
      PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}/usr/bin:/bin`,
      HOME: dir,
      KUBECONFIG: path.join(dir, 'none'),
    }
    const version = await runProgram(KUBECTL, ['imgsec', '--version'], {env})
    expect(version.code, version.stderr).to.equal(0)
    expect(version.stdout).to.match(/^kubectl-imgsec\/\d+\.\d+\.\d+ /)
    const audit = await runProgram(
      KUBECTL,
      ['imgsec', 'audit', 'images', '-f', path.join(ROOT, 'examples'), '-o', 'json'],
      {env},
    )
    expect(audit.code, audit.stderr).to.equal(3)
    expect(JSON.parse(audit.stdout).summary.critical).to.equal(1)
    const secret = await runProgram(
      KUBECTL,
      [
        'imgsec',
        'create-regcred',
        'regcred',
        '--docker-server',
        'myprivateregistry.com:5000',
        '--docker-username',
        'dock_user',
        '--docker-password',
        'Krew-Pa55',
        '--dry-run=client',
        '-o',
        'yaml',
      ],
      {env},
    )
    expect(secret.code, secret.stderr).to.equal(0)
    expect(parseYaml(secret.stdout)).to.deep.include({kind: 'Secret', type: 'kubernetes.io/dockerconfigjson'})
  })
})

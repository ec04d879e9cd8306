import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

/** A report in trivy's real JSON format (`trivy image --format json`, schema 2), trimmed to what matters. */
export function trivyReport(
  image: string,
  vulnerabilities: Array<[id: string, pkg: string, severity: string]>,
): string {
  return JSON.stringify(
    {
      SchemaVersion: 2,
      CreatedAt: '2026-11-01T10:00:00.000000000Z',
      ArtifactName: image,
      ArtifactType: 'container_image',
      Metadata: {OS: {Family: 'debian', Name: '12.7'}, ImageID: 'sha256:' + 'f'.repeat(64), RepoTags: [image]},
      Results: [
        {
          Target: `${image} (debian 12.7)`,
          Class: 'os-pkgs',
          Type: 'debian',
          Vulnerabilities: vulnerabilities.map(([id, pkg, severity]) => ({
            VulnerabilityID: id,
            PkgID: `${pkg}@1.0`,
            PkgName: pkg,
            InstalledVersion: '1.0',
            FixedVersion: '1.1',
            Status: 'fixed',
            SeveritySource: 'nvd',
            Title: `${pkg}: issue`,
            Severity: severity,
          })),
        },
        {Target: 'usr/local/bin/app', Class: 'lang-pkgs', Type: 'gobinary', Vulnerabilities: null},
      ],
    },
    null,
    2,
  )
}

/**
 * Put a `trivy` executable in `dir/bin` that logs its arguments and prints the report given for
 * the scanned image (a clean report otherwise); an image named in `failing` makes it exit 1.
 */
export function installFakeTrivy(
  dir: string,
  reports: Record<string, string>,
  failing: string[] = [],
): {bin: string; calls: () => string[][]} {
  const bin = path.join(dir, 'bin')
  mkdirSync(bin, {recursive: true})
  const reportsFile = path.join(dir, 'reports.json')
  const log = path.join(dir, 'calls.log')
  writeFileSync(reportsFile, JSON.stringify({reports, failing, clean: trivyReport('IMAGE', [])}))
  writeFileSync(log, '')
  writeFileSync(
    path.join(bin, 'trivy'),
    `#!/usr/bin/env node
const fs = require('fs')
const args = process.argv.slice(2)
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + '\\n')
const {reports, failing, clean} = JSON.parse(fs.readFileSync(${JSON.stringify(reportsFile)}, 'utf8'))
const image = args[args.length - 1]
if (failing.includes(image)) { console.error('FATAL image scan error: unable to find the specified image "' + image + '"'); process.exit(1) }
process.stdout.write(reports[image] ?? clean.replaceAll('IMAGE', image))
`,
  )
  chmodSync(path.join(bin, 'trivy'), 0o755)
  return {
    bin,
    calls: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as string[]),
  }
}

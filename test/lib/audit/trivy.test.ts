import {expect} from 'chai'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describeReport, findTrivy, parseTrivyReport, reportSeverity, scanImage} from '../../../src/lib/audit/trivy.js'
import {installFakeTrivy, trivyReport} from '../../support/fake-trivy.js'

describe('trivy', () => {
  it('counts vulnerabilities per severity, once per ID, most severe first', () => {
    const report = parseTrivyReport(
      trivyReport('nginx:1.25', [
        ['CVE-2024-0001', 'libc6', 'HIGH'],
        ['CVE-2024-0002', 'openssl', 'CRITICAL'],
        ['CVE-2024-0001', 'libc-bin', 'HIGH'],
        ['CVE-2024-0003', 'zlib', 'LOW'],
        ['GHSA-xxxx', 'x', 'WHATEVER'],
      ]),
    )
    expect(report.counts).to.deep.equal({CRITICAL: 1, HIGH: 1, MEDIUM: 0, LOW: 1, UNKNOWN: 1})
    expect(report.ids).to.deep.equal(['CVE-2024-0002', 'CVE-2024-0001', 'CVE-2024-0003', 'GHSA-xxxx'])
    expect(reportSeverity(report)).to.equal('critical')
    expect(describeReport('nginx:1.25', report)).to.equal(
      'nginx:1.25 has known vulnerabilities: 1 CRITICAL, 1 HIGH, 1 LOW, 1 UNKNOWN (CVE-2024-0002, CVE-2024-0001, CVE-2024-0003, GHSA-xxxx)',
    )
  })

  it('a clean image has no severity; a report without Results is clean', () => {
    expect(reportSeverity(parseTrivyReport(trivyReport('x', [])))).to.equal(undefined)
    expect(reportSeverity(parseTrivyReport('{"SchemaVersion": 2, "ArtifactName": "x"}'))).to.equal(undefined)
  })

  describe('running a trivy executable', () => {
    let trivy: ReturnType<typeof installFakeTrivy>
    before(() => {
      const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-trivy-'))
      trivy = installFakeTrivy(dir, {'nginx:1.25': trivyReport('nginx:1.25', [['CVE-2024-1111', 'openssl', 'HIGH']])}, [
        'missing:1',
      ])
    })

    it('is found on PATH', () => {
      expect(findTrivy(`/nonexistent${path.delimiter}${trivy.bin}`)).to.equal(path.join(trivy.bin, 'trivy'))
      expect(findTrivy('/nonexistent')).to.equal(undefined)
    })

    it('passes the documented arguments and parses the report', async () => {
      const report = await scanImage('nginx:1.25', {
        trivy: path.join(trivy.bin, 'trivy'),
        severity: 'CRITICAL,HIGH',
        ignoreUnfixed: true,
      })
      expect(report.counts.HIGH).to.equal(1)
      expect(trivy.calls().at(-1)).to.deep.equal([
        'image',
        '--quiet',
        '--format',
        'json',
        '--scanners',
        'vuln',
        '--list-all-pkgs=false',
        '--exit-code',
        '0',
        '--severity',
        'CRITICAL,HIGH',
        '--ignore-unfixed',
        'nginx:1.25',
      ])
    })

    it("reports trivy's own failure with its last stderr line", async () => {
      const error = await scanImage('missing:1', {trivy: path.join(trivy.bin, 'trivy')}).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((error as Error).message).to.equal(
        'trivy failed on missing:1: FATAL image scan error: unable to find the specified image "missing:1"',
      )
    })
  })
})

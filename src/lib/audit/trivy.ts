import {execFile} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import path from 'node:path'

import {type ContainerInstance, scanTargetOf, type Severity} from './checks/index.js'
import {limitConcurrency} from '../concurrency.js'
import {describeFailure} from '../describe-error.js'

export const TRIVY_SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const
export type TrivySeverity = (typeof TRIVY_SEVERITIES)[number]

export interface VulnerabilityReport {
  counts: Record<TrivySeverity, number>
  /** Vulnerability IDs, most severe first, without duplicates. */
  ids: string[]
}

/** `trivy` on PATH, or undefined. */
export function findTrivy(envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue
    const candidate = path.join(dir, 'trivy')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}

/** Summarise trivy's JSON report (`trivy image --format json`, schema 2): counts per severity and the IDs. */
export function parseTrivyReport(text: string): VulnerabilityReport {
  const doc = JSON.parse(text) as {
    Results?: Array<{Vulnerabilities?: Array<{VulnerabilityID?: string; Severity?: string}> | null}> | null
  }
  const counts = Object.fromEntries(TRIVY_SEVERITIES.map((s) => [s, 0])) as Record<TrivySeverity, number>
  const seen = new Map<string, TrivySeverity>()
  for (const result of doc.Results ?? []) {
    for (const vulnerability of result.Vulnerabilities ?? []) {
      const id = vulnerability.VulnerabilityID ?? 'unknown'
      const severity = (TRIVY_SEVERITIES as readonly string[]).includes(vulnerability.Severity ?? '')
        ? (vulnerability.Severity as TrivySeverity)
        : 'UNKNOWN'
      // The same CVE in several packages is one vulnerability of the image.
      if (seen.has(id)) continue
      seen.set(id, severity)
      counts[severity]++
    }
  }
  const ids = [...seen]
    .sort((a, b) => TRIVY_SEVERITIES.indexOf(a[1]) - TRIVY_SEVERITIES.indexOf(b[1]))
    .map(([id]) => id)
  return {counts, ids}
}

/** Our severity for an image: its worst vulnerability's. */
export function reportSeverity(report: VulnerabilityReport): Severity | undefined {
  if (report.counts.CRITICAL > 0) return 'critical'
  if (report.counts.HIGH > 0) return 'high'
  if (report.counts.MEDIUM > 0) return 'medium'
  if (report.counts.LOW > 0 || report.counts.UNKNOWN > 0) return 'low'
  return undefined
}

export interface ScanOptions {
  trivy: string
  severity?: string
  ignoreUnfixed?: boolean
  timeoutMs?: number
  /** `--image-archive`: scan this docker save / OCI tarball (`trivy image --input FILE`) instead of pulling. */
  input?: string
}

/**
 * Scan one image with trivy. trivy's own --exit-code stays 0, so a non-zero exit means trivy
 * itself failed (no such image, no network, no DB), which we report instead of hiding.
 */
export function scanImage(image: string, options: ScanOptions): Promise<VulnerabilityReport> {
  const args = [
    'image',
    '--quiet',
    '--format',
    'json',
    '--scanners',
    'vuln',
    '--list-all-pkgs=false',
    '--exit-code',
    '0',
  ]
  if (options.severity) args.push('--severity', options.severity)
  if (options.ignoreUnfixed) args.push('--ignore-unfixed')
  if (options.input) args.push('--input', options.input)
  else args.push(image)
  return new Promise((resolve, reject) => {
    execFile(
      options.trivy,
      args,
      {maxBuffer: 256 * 1024 * 1024, timeout: options.timeoutMs ?? 10 * 60_000},
      (error, stdout, stderr) => {
        if (error) {
          const last = String(stderr).trim().split('\n').filter(Boolean).pop() ?? describeFailure(error)
          reject(new Error(`trivy failed on ${image}: ${last}`))
          return
        }
        try {
          resolve(parseTrivyReport(stdout))
        } catch {
          reject(new Error(`trivy printed no JSON report for ${image}`))
        }
      },
    )
  })
}

export function describeReport(image: string, report: VulnerabilityReport): string {
  const counts = TRIVY_SEVERITIES.filter((s) => report.counts[s] > 0)
    .map((s) => `${report.counts[s]} ${s}`)
    .join(', ')
  const ids = report.ids.slice(0, 5).join(', ')
  return `${image} has known vulnerabilities: ${counts} (${ids}${report.ids.length > 5 ? ', …' : ''})`
}

/**
 * `--scan`: each distinct image once (by the digest it runs when known; an `--image-archive` image
 * through its tarball, `trivy --input`), two trivy processes at a time.
 */
export async function scanImages(
  instances: ContainerInstance[],
  scan: {severity?: string; ignoreUnfixed?: boolean},
  notices: string[],
  archiveOf?: Map<string, string>,
): Promise<Map<string, {severity?: Severity; message: string} | undefined> | undefined> {
  const trivy = findTrivy()
  if (!trivy) {
    notices.push(
      '--scan: trivy is not on PATH, so images were not scanned for vulnerabilities (install trivy); the other checks ran',
    )
    return undefined
  }
  const limit = limitConcurrency(2)
  const targets = [...new Set(instances.filter((c) => c.image).map(scanTargetOf))]
  const results = await Promise.all(
    targets.map((image) =>
      limit(async () => {
        try {
          const report = await scanImage(image, {trivy, ...scan, input: archiveOf?.get(image)})
          const severity = reportSeverity(report)
          return severity ? {severity, message: describeReport(image, report)} : undefined
        } catch (error) {
          notices.push(describeFailure(error))
          return undefined
        }
      }),
    ),
  )
  return new Map(targets.map((image, i) => [image, results[i]]))
}

import path from 'node:path'

import type {AuditSummary, Finding} from './audit.js'
import {type CheckRule, CHECKS, type Severity} from './checks/index.js'
import {SEVERITIES} from './checks/types.js'
import type {ImageFacts} from '../image/image-facts.js'
import {stringify as stringifyYaml} from 'yaml'

export const AUDIT_FORMATS = ['table', 'json', 'yaml', 'sarif'] as const
export type AuditFormat = (typeof AUDIT_FORMATS)[number]

/** The stable JSON shape: field order and names are part of the interface CI scripts rely on. */
export function auditDocument(
  findings: Finding[],
  summary: AuditSummary,
  images?: readonly ImageFacts[],
): {findings: object[]; summary: AuditSummary; images?: object[]} {
  return {findings: findings.map(findingRecord), summary, ...(images ? {images: images.map(imageRecord)} : {})}
}

/** `--inspect`: what one image is, as the JSON and YAML reports print it (never the credential-like values it holds). */
export function imageRecord(i: ImageFacts): object {
  return {
    image: i.image,
    digest: i.digest,
    ...(i.platform ? {platform: i.platform} : {}),
    user: i.user,
    created: i.created ?? null,
    compressedSize: i.compressedSize,
    layers: i.layers,
  }
}

/** One finding as the JSON and YAML reports print it. */
export function findingRecord(f: Finding): object {
  return {
    ...(f.cluster === undefined ? {} : {cluster: f.cluster}),
    check: f.check,
    severity: f.severity,
    resource: {kind: f.resource.kind, namespace: f.resource.namespace ?? '', name: f.resource.name},
    container: f.container,
    image: f.image,
    message: f.message,
    ...(f.file === undefined ? {} : {file: f.file, line: f.line}),
  }
}

const SARIF_LEVEL: Record<Severity, string> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  info: 'note',
}
// GitHub code scanning ranks by this score (0.1-3.9 is low); info has none: it is not a security problem.
const SECURITY_SEVERITY: Record<Severity, string | undefined> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '3.0',
  info: undefined,
}

/**
 * SARIF 2.1.0: one rule per check that ran (with its description, recommended action and help
 * URL), file/line locations for file sources, logical locations for cluster objects.
 */
export function sarifDocument(
  findings: Finding[],
  version: string,
  options: {rules?: readonly CheckRule[]; cwd?: string; summary?: AuditSummary} = {},
): object {
  const result = sarifResultOf(options.rules ?? CHECKS, options.cwd ?? process.cwd())
  return sarifSkeleton(
    version,
    options.rules ?? CHECKS,
    findings.map(result),
    options.summary && sarifProperties(options.summary),
  )
}

/** What is not a result but must not disappear: exempted findings, kinds audited by shape, skipped objects, a fleet's clusters. */
export function sarifProperties(summary: AuditSummary): object {
  return {
    exempted: summary.exempted,
    auditedByShape: summary.auditedByShape ?? [],
    skipped: summary.skipped ?? 0,
    ...(summary.clusters ? {clusters: summary.clusters} : {}),
  }
}

/**
 * The SARIF log around its results (`results` and `properties` are whatever is given: the streamed
 * report passes placeholders, since the run's properties are known only at its end).
 */
export function sarifSkeleton(
  version: string,
  rules: readonly CheckRule[],
  results: unknown,
  properties?: unknown,
): object {
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'kubectl-imgsec',
            version,
            rules: rules.map((rule) => ({
              id: rule.id,
              name: rule.id.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase()),
              shortDescription: {text: rule.title},
              fullDescription: {text: rule.description},
              helpUri: rule.helpUri,
              help: {
                text: `${rule.fix} (${rule.helpUri})`,
                markdown: `**Recommended action:** ${rule.fix}\n\n[${rule.id}](${rule.helpUri})`,
              },
              defaultConfiguration: {level: SARIF_LEVEL[rule.severity]},
              properties: {
                ...(SECURITY_SEVERITY[rule.severity] ? {'security-severity': SECURITY_SEVERITY[rule.severity]} : {}),
                tags: ['security', 'kubernetes'],
              },
            })),
          },
        },
        results,
        ...(properties === undefined ? {} : {properties}),
      },
    ],
  }
}

/** One finding as a SARIF result, given the rules that ran (for ruleIndex) and the directory file URIs are relative to. */
export function sarifResultOf(rules: readonly CheckRule[], cwd: string): (f: Finding) => object {
  const index = new Map(rules.map((rule, i) => [rule.id, i]))
  return (f) => ({
    ruleId: f.check,
    ruleIndex: index.get(f.check) ?? -1,
    level: SARIF_LEVEL[f.severity],
    message: {
      text: `${f.message} (${f.cluster === undefined ? '' : `cluster ${f.cluster}, `}${f.resource.kind} ${f.resource.namespace ? `${f.resource.namespace}/` : ''}${f.resource.name}, container ${f.container})`,
    },
    ...(f.cluster === undefined ? {} : {properties: {cluster: f.cluster}}),
    locations: [
      f.file === undefined
        ? {
            logicalLocations: [
              {
                kind: 'resource',
                fullyQualifiedName: `${f.cluster === undefined ? '' : `${f.cluster}/`}${f.resource.kind}/${f.resource.namespace ?? ''}/${f.resource.name}/${f.container}`,
              },
            ],
          }
        : {
            physicalLocation: {
              artifactLocation: {
                uri:
                  f.file === '<stdin>' ? 'stdin' : path.relative(cwd, path.resolve(f.file)).split(path.sep).join('/'),
              },
              region: {startLine: f.line ?? 1},
            },
          },
    ],
  })
}

const COLOURS: Record<Severity, string> = {
  critical: '\u001B[1;31m',
  high: '\u001B[31m',
  medium: '\u001B[33m',
  low: '\u001B[36m',
  info: '\u001B[2m',
}

/** What the table says besides the findings: what was audited by shape, what was skipped. */
export interface CoverageNotes {
  /** Workloads of kinds the tool does not know, audited because they have a pod template (`Rollout default/web`). */
  byShape?: string[]
  /** Objects without a pod template (ConfigMap, Service, …). */
  skipped?: number
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`

/** The table's heading of a finding's group: its workload (and file). */
export function tableHeading(f: Finding): string {
  const {kind, namespace, name} = f.resource
  return `${kind} ${namespace ? `${namespace}/` : ''}${name}${f.file ? `  (${f.file})` : ''}`
}

/** One group of the table: heading, column titles, a line per finding, a blank line. */
export function tableGroupLines(heading: string, group: Finding[], colour: boolean): string[] {
  const paint = (severity: Severity, text: string) => (colour ? `${COLOURS[severity]}${text}\u001B[0m` : text)
  let check = 5
  let container = 9
  for (const f of group) {
    check = Math.max(check, f.check.length)
    container = Math.max(container, f.container.length)
  }
  const lines = [
    heading,
    `  ${'SEVERITY'.padEnd(8)}  ${'CHECK'.padEnd(check)}  ${'CONTAINER'.padEnd(container)}  ${group[0].file ? 'LINE  ' : ''}MESSAGE`,
  ]
  for (const f of group) {
    const line = f.file ? `${String(f.line ?? '').padEnd(4)}  ` : ''
    lines.push(
      `  ${paint(f.severity, f.severity.toUpperCase().padEnd(8))}  ${f.check.padEnd(check)}  ${f.container.padEnd(container)}  ${line}${f.message}`,
    )
  }
  lines.push('')
  return lines
}

/** The table's last lines: the summary, then what exemptions hid and what was audited by shape or skipped. */
export function tableFooterLines(
  summary: AuditSummary,
  groups: number,
  options: {workloads: number} & CoverageNotes,
): string[] {
  // info only when there is some: it is a count of notes, not of problems.
  const shown = summary.info > 0 ? SEVERITIES : SEVERITIES.filter((s) => s !== 'info')
  const counts = shown.map((s) => `${summary[s]} ${s}`).join(', ')
  const lines = [
    summary.total === 0
      ? `No findings in ${options.workloads} workload${options.workloads === 1 ? '' : 's'}.`
      : `Summary: ${counts} (${summary.total} finding${summary.total === 1 ? '' : 's'} in ${groups} of ${options.workloads} workload${options.workloads === 1 ? '' : 's'})`,
  ]
  // Nothing disappears silently: what exemptions hid, what was audited only by its shape, what had nothing to audit.
  if (summary.exempted > 0) lines.push(`${plural(summary.exempted, 'finding')} exempted by policy or annotation.`)
  if (options.byShape && options.byShape.length > 0)
    lines.push(`Audited by shape (a pod template in a kind the tool does not know): ${options.byShape.join(', ')}.`)
  if (options.skipped) lines.push(`${plural(options.skipped, 'object')} without a pod template skipped.`)
  return lines
}

/** One cluster of a fleet audit as the table sums it up: no summary when it could not be audited. */
export interface FleetClusterNote {
  name: string
  summary?: AuditSummary
  workloads?: number
}

/** A fleet table's line after one cluster's findings: its own summary, or why it has none. */
export function tableClusterLine(cluster: FleetClusterNote, groups: number): string {
  if (cluster.summary === undefined) return `Cluster ${cluster.name}: not audited (the error is below).`
  const [line] = tableFooterLines(cluster.summary, groups, {workloads: cluster.workloads ?? 0})
  return `Cluster ${cluster.name}: ${line.replace(/^Summary: /, '')}`
}

/** Human table grouped by workload, with a summary line; colour only when asked (a TTY). */
export function auditTable(
  findings: Finding[],
  summary: AuditSummary,
  options: {colour: boolean; workloads: number} & CoverageNotes,
): string {
  const groups = new Map<string, Finding[]>()
  for (const finding of findings) {
    const heading = tableHeading(finding)
    const group = groups.get(heading)
    if (group) group.push(finding)
    else groups.set(heading, [finding])
  }
  const lines: string[] = []
  for (const [heading, group] of groups) lines.push(...tableGroupLines(heading, group, options.colour))
  lines.push(...tableFooterLines(summary, groups.size, options))
  return lines.join('\n') + '\n'
}

export function renderAudit(
  format: AuditFormat,
  findings: Finding[],
  summary: AuditSummary,
  options: {
    colour: boolean
    workloads: number
    version: string
    rules?: readonly CheckRule[]
    images?: readonly ImageFacts[]
  } & CoverageNotes,
): string {
  switch (format) {
    case 'json':
      return JSON.stringify(auditDocument(findings, summary, options.images), null, 2) + '\n'
    case 'yaml':
      return stringifyYaml(auditDocument(findings, summary, options.images), {indentSeq: false, lineWidth: 0})
    case 'sarif':
      return JSON.stringify(sarifDocument(findings, options.version, {rules: options.rules, summary}), null, 2) + '\n'
    case 'table':
      return auditTable(findings, summary, options)
  }
}

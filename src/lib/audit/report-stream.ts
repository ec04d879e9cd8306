import type {AuditSummary, Finding} from './audit.js'
import {type CheckRule, CROSS_CLUSTER_CHECKS} from './checks/index.js'
import {
  type AuditFormat,
  type CoverageNotes,
  findingRecord,
  imageRecord,
  sarifProperties,
  sarifResultOf,
  sarifSkeleton,
  tableClusterLine,
  type FleetClusterNote,
  tableFooterLines,
  tableGroupLines,
  tableHeading,
} from './reporters.js'
import {addSpan, FindingSpool, readSpans} from './finding-spool.js'
import type {ImageFacts} from '../image/image-facts.js'
import {stringify as stringifyYaml} from 'yaml'

/** Where a report goes: process.stdout, or any writable stream. */
export interface ReportSink {
  write(chunk: string): boolean
  once(event: 'drain', listener: () => void): unknown
}

/**
 * A report written as the findings arrive, byte for byte what `renderAudit` prints for the same
 * findings: JSON, YAML and SARIF hold only the current chunk, never the whole document. The table
 * groups findings by workload (a cross-workload finding joins its workload's group), so it parks
 * the findings on disk until `end` and then writes group by group.
 */
export interface ReportWriter {
  add(finding: Finding): void
  /** JSON, YAML and SARIF: a finding's text, the same wherever it falls, and that text put in its place. */
  render?(finding: Finding): string
  addRendered?(text: string): void
  /** Hand what is buffered to the sink; resolves once the sink can take more (its backpressure). */
  flush(): Promise<void>
  end(summary: AuditSummary, notes: ReportNotes): Promise<void>
}

/** What the report says besides the findings; `clusters`: a fleet audit's clusters, in the order asked (the table's sections). */
export type ReportNotes = {
  workloads: number
  images?: readonly ImageFacts[]
  clusters?: readonly FleetClusterNote[]
} & CoverageNotes

const CROSS_CLUSTER_IDS = new Set(CROSS_CLUSTER_CHECKS.map((check) => check.id))

const YAML_OPTIONS = {indentSeq: false, lineWidth: 0} as const
const CHUNK = 64 * 1024
const PLACEHOLDER = '\u0000items\u0000'

/** The text of `document` around the placeholder array: what comes before `[`, the items' indent, what comes after `]`. */
function jsonFrame(document: object): {head: string; pad: string; tail: string} {
  const text = JSON.stringify(document, null, 2) + '\n'
  const marker = JSON.stringify(PLACEHOLDER)
  const at = text.indexOf(marker)
  const lineStart = text.lastIndexOf('\n', at) + 1
  const indent = /^ */.exec(text.slice(lineStart))![0]
  return {head: text.slice(0, at), pad: `${indent}  `, tail: text.slice(at + marker.length)}
}

export function reportWriter(
  format: AuditFormat,
  sink: ReportSink,
  options: {colour: boolean; version: string; rules: readonly CheckRule[]; cwd?: string},
): ReportWriter {
  let buffer: string[] = []
  let size = 0
  // Set when the sink refuses more, cleared by its next 'drain': every flush awaits the same one. A
  // flag read after the drain fired would wait for a drain that never comes (a fleet audit's
  // clusters flush concurrently).
  let drained: Promise<void> | undefined
  const put = (text: string) => {
    buffer.push(text)
    size += text.length
    if (size >= CHUNK && started) send()
  }
  const send = () => {
    if (size === 0) return
    const chunk = buffer.join('')
    buffer = []
    size = 0
    if (!sink.write(chunk) && !drained)
      drained = new Promise<void>((resolve) =>
        sink.once('drain', () => {
          drained = undefined
          resolve()
        }),
      )
  }
  // Nothing reaches the sink before the first finding: a run that fails before it prints nothing.
  let started = false
  const flush = async () => {
    if (!started) return
    send()
    if (drained) await drained
  }
  let count = 0

  if (format === 'json' || format === 'sarif') {
    // The document's own JSON.stringify around a placeholder gives every byte outside the items.
    const result = format === 'sarif' ? sarifResultOf(options.rules, options.cwd ?? process.cwd()) : findingRecord
    const frame = jsonFrame(
      format === 'sarif'
        ? sarifSkeleton(options.version, options.rules, PLACEHOLDER, '\u0000properties\u0000')
        : {findings: PLACEHOLDER, summary: '\u0000summary\u0000'},
    )
    put(frame.head + '[')
    const render = (finding: Finding) => JSON.stringify(result(finding), null, 2).replaceAll('\n', `\n${frame.pad}`)
    const addRendered = (text: string) => {
      started = true
      put(`${count++ === 0 ? '\n' : ',\n'}${frame.pad}`)
      put(text)
    }
    return {
      add: (finding) => addRendered(render(finding)),
      render,
      addRendered,
      flush,
      async end(summary, notes) {
        started = true
        put(count === 0 ? ']' : `\n${frame.pad.slice(2)}]`)
        // --inspect's images follow the summary, as auditDocument has them.
        const images = notes.images
          ? `,\n  "images": ${JSON.stringify(notes.images.map(imageRecord), null, 2).replaceAll('\n', '\n  ')}`
          : ''
        put(
          format === 'sarif'
            ? frame.tail.replace(JSON.stringify('\u0000properties\u0000'), () =>
                JSON.stringify(sarifProperties(summary), null, 2).replaceAll('\n', '\n      '),
              )
            : frame.tail.replace(
                JSON.stringify('\u0000summary\u0000'),
                () => JSON.stringify(summary, null, 2).replaceAll('\n', '\n  ') + images,
              ),
        )
        await flush()
      },
    }
  }

  if (format === 'yaml') {
    // A one-item sequence at the top level prints as the item does under `findings:` (indentSeq: false).
    const render = (finding: Finding) => stringifyYaml([findingRecord(finding)], YAML_OPTIONS)
    const addRendered = (text: string) => {
      started = true
      if (count++ === 0) put('findings:\n')
      put(text)
    }
    return {
      add: (finding) => addRendered(render(finding)),
      render,
      addRendered,
      flush,
      async end(summary, notes) {
        started = true
        if (count === 0) put('findings: []\n')
        put(stringifyYaml({summary}, YAML_OPTIONS))
        if (notes.images) put(stringifyYaml({images: notes.images.map(imageRecord)}, YAML_OPTIONS))
        await flush()
      },
    }
  }

  // The table groups findings by workload (a cross-workload finding joins its workload's group)
  // and sizes each group's columns by all of its rows: the findings wait in a spool on disk; what
  // stays in memory is, per cluster (only a fleet audit has more than the one with no name) and
  // per workload heading, the spans of the spool that hold its findings.
  // Made now: a temp dir that cannot be written is refused before any cluster is read.
  const spool = new FindingSpool()
  const clusters = new Map<string, Map<string, number[]>>()
  // Per cluster: its groups that are workloads (a cross-cluster finding's group is an image's).
  const workloadGroups = new Map<string, number>()
  const writeGroups = async (groups: Map<string, number[]>) => {
    for (const [heading, spans] of groups) {
      const group = [...readSpans(spool, spans)]
      for (const line of tableGroupLines(heading, group, options.colour)) put(`${line}\n`)
      groups.delete(heading)
      // eslint-disable-next-line no-await-in-loop -- the sink's backpressure, group by group
      await flush()
    }
  }
  return {
    add(finding) {
      const heading = tableHeading(finding)
      const cluster = finding.cluster ?? ''
      let groups = clusters.get(cluster)
      if (!groups) clusters.set(cluster, (groups = new Map()))
      let spans = groups.get(heading)
      if (!spans) {
        groups.set(heading, (spans = []))
        if (!CROSS_CLUSTER_IDS.has(finding.check)) workloadGroups.set(cluster, (workloadGroups.get(cluster) ?? 0) + 1)
      }
      addSpan(spans, spool.append(finding))
    },
    flush,
    async end(summary, notes) {
      started = true
      try {
        let workloads = 0
        if (notes.clusters) {
          for (const cluster of notes.clusters) {
            const groups = clusters.get(cluster.name) ?? new Map<string, number[]>()
            const count = workloadGroups.get(cluster.name) ?? 0
            workloads += count
            // Each cluster's section opens with its own summary line.
            put(`${tableClusterLine(cluster, count)}\n\n`)
            // eslint-disable-next-line no-await-in-loop -- one cluster after the other
            await writeGroups(groups)
          }
        } else {
          const groups = clusters.get('') ?? new Map<string, number[]>()
          workloads = groups.size
          await writeGroups(groups)
        }
        for (const line of tableFooterLines(summary, workloads, notes)) put(`${line}\n`)
        await flush()
      } finally {
        spool.close()
      }
    },
  }
}

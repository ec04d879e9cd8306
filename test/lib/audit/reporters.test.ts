import {expect} from 'chai'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {type Finding, summarize} from '../../../src/lib/audit/audit.js'
import {CHECKS} from '../../../src/lib/audit/checks/index.js'
import {auditDocument, auditTable, renderAudit, sarifDocument} from '../../../src/lib/audit/reporters.js'

const FILE_FINDINGS: Finding[] = [
  {
    check: 'privileged',
    severity: 'critical',
    resource: {kind: 'Deployment', namespace: 'default', name: 'web'},
    container: 'web',
    image: 'nginx:latest',
    message: 'container "web" is privileged',
    fix: 'f1',
    file: '/repo/manifests/web.yaml',
    line: 22,
  },
  {
    check: 'image-tag-latest',
    severity: 'high',
    resource: {kind: 'Deployment', namespace: 'default', name: 'web'},
    container: 'web',
    image: 'nginx:latest',
    message: 'nginx:latest uses the mutable tag :latest',
    fix: 'f2',
    file: '/repo/manifests/web.yaml',
    line: 23,
  },
  {
    check: 'image-digest-missing',
    severity: 'low',
    resource: {kind: 'Pod', name: 'bare'},
    container: 'sidecar-long-name',
    image: 'busybox:1',
    message: 'busybox:1 is not pinned by digest',
    fix: 'f3',
    file: '<stdin>',
    line: 7,
  },
]
const CLUSTER_FINDING: Finding = {
  check: 'image-tag-digest-mismatch',
  severity: 'medium',
  resource: {kind: 'Deployment', namespace: 'shop', name: 'web'},
  container: 'main',
  image: 'nginx:1.25',
  message: 'docker.io/library/nginx:1.25 runs as 2 different digests',
  fix: 'pin it',
}

describe('audit reporters', () => {
  describe('JSON / YAML document', () => {
    it('has the stable field order, an empty namespace for cluster-scoped names, file/line only for files, no fix', () => {
      const doc = auditDocument([FILE_FINDINGS[2], CLUSTER_FINDING], summarize([FILE_FINDINGS[2], CLUSTER_FINDING]))
      expect(JSON.stringify(doc)).to.equal(
        JSON.stringify({
          findings: [
            {
              check: 'image-digest-missing',
              severity: 'low',
              resource: {kind: 'Pod', namespace: '', name: 'bare'},
              container: 'sidecar-long-name',
              image: 'busybox:1',
              message: 'busybox:1 is not pinned by digest',
              file: '<stdin>',
              line: 7,
            },
            {
              check: 'image-tag-digest-mismatch',
              severity: 'medium',
              resource: {kind: 'Deployment', namespace: 'shop', name: 'web'},
              container: 'main',
              image: 'nginx:1.25',
              message: 'docker.io/library/nginx:1.25 runs as 2 different digests',
            },
          ],
          summary: {critical: 0, high: 0, medium: 1, low: 1, info: 0, total: 2, exempted: 0},
        }),
      )
    })

    it('-o yaml is the same document as -o json', () => {
      const summary = summarize(FILE_FINDINGS)
      const options = {colour: false, workloads: 2, version: '1.2.3'}
      expect(parseYaml(renderAudit('yaml', FILE_FINDINGS, summary, options))).to.deep.equal(
        JSON.parse(renderAudit('json', FILE_FINDINGS, summary, options)),
      )
    })
  })

  describe('table', () => {
    it('groups by workload with a LINE column for files, and a summary line', () => {
      const table = auditTable(FILE_FINDINGS, summarize(FILE_FINDINGS), {colour: false, workloads: 4})
      expect(table).to.equal(
        [
          'Deployment default/web  (/repo/manifests/web.yaml)',
          '  SEVERITY  CHECK             CONTAINER  LINE  MESSAGE',
          '  CRITICAL  privileged        web        22    container "web" is privileged',
          '  HIGH      image-tag-latest  web        23    nginx:latest uses the mutable tag :latest',
          '',
          'Pod bare  (<stdin>)',
          '  SEVERITY  CHECK                 CONTAINER          LINE  MESSAGE',
          '  LOW       image-digest-missing  sidecar-long-name  7     busybox:1 is not pinned by digest',
          '',
          'Summary: 1 critical, 1 high, 0 medium, 1 low (3 findings in 2 of 4 workloads)',
          '',
        ].join('\n'),
      )
    })

    it('says what exemptions hid, what was audited by shape and what was skipped (issue 11)', () => {
      const table = auditTable([], summarize([], 12), {
        colour: false,
        workloads: 2,
        byShape: ['Rollout default/web', 'Service knative/hello'],
        skipped: 3,
      })
      expect(table.split('\n')).to.deep.equal([
        'No findings in 2 workloads.',
        '12 findings exempted by policy or annotation.',
        'Audited by shape (a pod template in a kind the tool does not know): Rollout default/web, Service knative/hello.',
        '3 objects without a pod template skipped.',
        '',
      ])
      expect(auditTable([], summarize([]), {colour: false, workloads: 1, byShape: [], skipped: 0})).to.equal(
        'No findings in 1 workload.\n',
      )
    })

    it('cluster findings have no LINE column; colour only when asked', () => {
      const plain = auditTable([CLUSTER_FINDING], summarize([CLUSTER_FINDING]), {colour: false, workloads: 1})
      expect(plain.split('\n').slice(0, 3)).to.deep.equal([
        'Deployment shop/web',
        '  SEVERITY  CHECK                      CONTAINER  MESSAGE',
        '  MEDIUM    image-tag-digest-mismatch  main       docker.io/library/nginx:1.25 runs as 2 different digests',
      ])
      expect(plain).to.not.contain('\u001B[')
      expect(auditTable([CLUSTER_FINDING], summarize([CLUSTER_FINDING]), {colour: true, workloads: 1})).to.contain(
        '\u001B[33mMEDIUM  \u001B[0m',
      )
    })

    it('info findings: INFO in the table, counted in the summary line only when there are some', () => {
      const info: Finding = {
        ...CLUSTER_FINDING,
        check: 'image-setuid-files',
        severity: 'info',
        message: 'setuid: /bin/su',
      }
      const lines = auditTable([info, CLUSTER_FINDING], summarize([info, CLUSTER_FINDING]), {
        colour: false,
        workloads: 1,
      }).split('\n')
      expect(lines[2]).to.match(/^ {2}INFO {6}image-setuid-files/)
      expect(lines.at(-2)).to.equal(
        'Summary: 0 critical, 0 high, 1 medium, 0 low, 1 info (2 findings in 1 of 1 workload)',
      )
      expect(
        JSON.parse(renderAudit('json', [info], summarize([info]), {colour: false, workloads: 1, version: '1'})).summary,
      ).to.include({info: 1, total: 1})
    })

    it('no findings: one line naming how many workloads were audited', () => {
      expect(auditTable([], summarize([]), {colour: false, workloads: 1})).to.equal('No findings in 1 workload.\n')
      expect(auditTable([], summarize([]), {colour: false, workloads: 3})).to.equal('No findings in 3 workloads.\n')
    })
  })

  describe('SARIF', () => {
    type Rule = {
      id: string
      name: string
      shortDescription: {text: string}
      fullDescription: {text: string}
      helpUri: string
      help: {text: string; markdown: string}
      defaultConfiguration: {level: string}
      properties: Record<string, unknown>
    }
    type Result = {
      ruleId: string
      ruleIndex: number
      level: string
      message: {text: string}
      locations: Array<Record<string, any>>
    }
    const sarif = (findings: Finding[], options?: Parameters<typeof sarifDocument>[2]) =>
      (
        sarifDocument(findings, '1.2.3', {cwd: '/repo', ...options}) as {
          runs: Array<{tool: {driver: {name: string; version: string; rules: Rule[]}}; results: Result[]}>
        }
      ).runs[0]

    it('one rule per check, from its metadata: description, recommended action and help URL', () => {
      const run = sarif([])
      expect(run.tool.driver).to.deep.include({name: 'kubectl-imgsec', version: '1.2.3'})
      expect(run.tool.driver.rules.map((r) => r.id)).to.deep.equal(CHECKS.map((c) => c.id))
      const privileged = run.tool.driver.rules.find((r) => r.id === 'privileged')!
      const check = CHECKS.find((c) => c.id === 'privileged')!
      expect(privileged).to.deep.equal({
        id: 'privileged',
        name: 'Privileged',
        shortDescription: {text: 'Privileged container'},
        fullDescription: {text: check.description},
        helpUri: 'https://github.com/kubectl-imgsec/kubectl-imgsec/blob/main/docs/checks.md#privileged',
        help: {
          text: `${check.fix} (https://github.com/kubectl-imgsec/kubectl-imgsec/blob/main/docs/checks.md#privileged)`,
          markdown: `**Recommended action:** ${check.fix}\n\n[privileged](https://github.com/kubectl-imgsec/kubectl-imgsec/blob/main/docs/checks.md#privileged)`,
        },
        defaultConfiguration: {level: 'error'},
        properties: {'security-severity': '9.5', tags: ['security', 'kubernetes']},
      })
      expect(run.tool.driver.rules.find((r) => r.id === 'image-tag-digest-mismatch')!.name).to.equal(
        'ImageTagDigestMismatch',
      )
      for (const rule of run.tool.driver.rules)
        expect(rule.helpUri).to.equal(
          `https://github.com/kubectl-imgsec/kubectl-imgsec/blob/main/docs/checks.md#${rule.id}`,
        )
    })

    it('results point at their rule, with levels from the severity and file paths relative to the working directory', () => {
      const run = sarif(FILE_FINDINGS)
      const ids = run.tool.driver.rules.map((r) => r.id)
      expect(run.results.map((r) => [r.ruleId, ids[r.ruleIndex], r.level])).to.deep.equal([
        ['privileged', 'privileged', 'error'],
        ['image-tag-latest', 'image-tag-latest', 'error'],
        ['image-digest-missing', 'image-digest-missing', 'note'],
      ])
      expect(run.results[0].message.text).to.equal(
        'container "web" is privileged (Deployment default/web, container web)',
      )
      expect(run.results[0].locations).to.deep.equal([
        {physicalLocation: {artifactLocation: {uri: 'manifests/web.yaml'}, region: {startLine: 22}}},
      ])
      expect(run.results[2].locations[0].physicalLocation.artifactLocation.uri).to.equal('stdin')
      expect(run.results[2].message.text).to.equal(
        'busybox:1 is not pinned by digest (Pod bare, container sidecar-long-name)',
      )
    })

    it('info: level note and no security-severity (it is not a security problem), rule and result alike', () => {
      const info: Finding = {
        ...CLUSTER_FINDING,
        check: 'image-setuid-files',
        severity: 'info',
        message: 'setuid: /bin/su',
      }
      const run = sarif([info])
      const rule = run.tool.driver.rules.find((r) => r.id === 'image-setuid-files')!
      expect(rule.defaultConfiguration).to.deep.equal({level: 'note'})
      expect(rule.properties).to.deep.equal({tags: ['security', 'kubernetes']})
      expect(run.results[0].level).to.equal('note')
    })

    it('cluster findings get a logical location', () => {
      const [result] = sarif([CLUSTER_FINDING]).results
      expect(result.level).to.equal('warning')
      expect(result.locations).to.deep.equal([
        {logicalLocations: [{kind: 'resource', fullyQualifiedName: 'Deployment/shop/web/main'}]},
      ])
    })

    it('lists only the rules that ran (--ignore-check), indexes into that list', () => {
      const rules = CHECKS.filter((c) => c.id !== 'privileged')
      const run = sarif([FILE_FINDINGS[1]], {rules})
      expect(run.tool.driver.rules.map((r) => r.id)).to.deep.equal(rules.map((c) => c.id))
      expect(run.results[0].ruleIndex).to.equal(rules.findIndex((c) => c.id === 'image-tag-latest'))
    })

    it('renderAudit("sarif") passes the rules through', () => {
      const rules = CHECKS.slice(0, 2)
      const doc = JSON.parse(
        renderAudit('sarif', [], summarize([]), {colour: false, workloads: 0, version: '9', rules}),
      )
      expect(doc.runs[0].tool.driver.rules.map((r: Rule) => r.id)).to.deep.equal([
        'image-reference-invalid',
        'image-registry-not-allowed',
      ])
      expect(doc.$schema).to.equal('https://json.schemastore.org/sarif-2.1.0.json')
      expect(path.basename(doc.runs[0].tool.driver.rules[0].helpUri)).to.equal('checks.md#image-reference-invalid')
    })
  })
})

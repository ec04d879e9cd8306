import {expect} from 'chai'
import {isScalar, parseAllDocuments, parseDocument, type Scalar, type Tags} from 'yaml'

import {parseManifests} from '../../../src/lib/audit/manifest-files.js'
import {KUBECTL_YAML_OPTIONS} from '../../../src/lib/audit/manifest-yaml.js'

// KUBECTL_YAML_OPTIONS without its first tag, the fast answer for plain strings: the YAML 1.1
// tags alone, as the parser would try them one by one.
const slowOptions = {
  ...KUBECTL_YAML_OPTIONS,
  customTags: (tags: Tags) => {
    const all = KUBECTL_YAML_OPTIONS.customTags(tags)
    const first = all[0] as {test?: unknown}
    expect(first.test).to.not.be.instanceOf(RegExp, 'the fast tag comes first')
    return all.slice(1)
  },
}

function scalarsOf(text: string, options: object): Array<{value: unknown; tag?: string; format?: string}> {
  const found: Array<{value: unknown; tag?: string; format?: string}> = []
  const document = parseDocument(text, options)
  expect(document.errors).to.deep.equal([])
  for (const item of (document.contents as {items: Scalar[]}).items) {
    expect(isScalar(item)).to.equal(true)
    found.push({value: item.value, tag: item.tag, format: item.format})
  }
  return found
}

describe('manifest-yaml: how kubectl reads YAML, fast', () => {
  // Every word YAML 1.1 gives a meaning, in every case, numbers in every base, and strings that
  // look like them: the fast tag must answer exactly what the slow tags answer.
  const words = ['y', 'yes', 'true', 'on', 'n', 'no', 'false', 'off', 'null', 'nan', 'inf', 'o', 'of', 'nul', 'tru']
  const cased = words.flatMap((word) => {
    const variants = new Set<string>()
    for (let mask = 0; mask < 1 << word.length; mask++)
      variants.add([...word].map((c, i) => (mask & (1 << i) ? c.toUpperCase() : c)).join(''))
    return [...variants]
  })
  const others = [
    '~',
    '',
    '.inf',
    '-.Inf',
    '+.INF',
    '.nan',
    '.NaN',
    'NaN',
    '0x1F',
    '0o17',
    '017',
    '0b101',
    '1_000',
    '1e3',
    '-1.5',
    '.5',
    '2001-12-14',
    '1:20',
    '190:20:30',
    'x1',
    'a:b',
    'nginx:1.25',
    'ON1',
    'yesno',
    'Falsey',
    'nulls',
    '_x',
    '/bin/sh',
    'Z',
    'z9',
    'apiVersion',
    'namespace',
    'templates',
    'offline',
    'one',
    'noop',
  ]

  it('the fast tag for plain strings gives what the YAML 1.1 tags give, for every word and number', () => {
    const scalars = [...cased, ...others]
    const text = scalars.map((s) => (s === '' ? '-' : `- ${s}`)).join('\n') + '\n'
    const fast = scalarsOf(text, KUBECTL_YAML_OPTIONS)
    const slow = scalarsOf(text, slowOptions)
    expect(fast).to.have.length(scalars.length)
    expect(fast).to.deep.equal(slow)
    // y, yes, true, on, n, no, false, off in their three spellings each (and y/n in two): booleans.
    expect(fast.filter((s) => typeof s.value === 'boolean').length).to.equal(22)
  })

  it('block scalars, keys and random plain words read the same with and without the fast tag', () => {
    let seed = 7
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    const alphabet = 'aAnNoOtTfFyY0123.-+_x'
    const lines = Array.from({length: 2000}, (_, i) => {
      const word = Array.from(
        {length: 1 + Math.floor(random() * 5)},
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join('')
      return `k${i}: ${word}`
    })
    const text = `${lines.join('\n')}\n`
    const fast = parseAllDocuments(text, KUBECTL_YAML_OPTIONS).map((d) => ('toJS' in d ? d.toJS() : d))
    const slow = parseAllDocuments(text, slowOptions).map((d) => ('toJS' in d ? d.toJS() : d))
    expect(fast).to.deep.equal(slow)
  })

  it('duplicate keys: each repeat once, in line order, nested and flow maps too; merge keys are not duplicates', () => {
    const text = [
      'apiVersion: v1', // 1
      'kind: ConfigMap', // 2
      'metadata:', // 3
      '  name: a', // 4
      '  labels: {x: "1", x: "2"}', // 5
      'data:', // 6
      '  k: "1"', // 7
      '  k: "2"', // 8
      '  k: "3"', // 9
      '  <<: {m: "1"}', // 10
      '  <<: {p: "1"}', // 11
      'kind: ConfigMap', // 12
      '',
    ].join('\n')
    const parsed = parseManifests(text, 'x.yaml')
    expect(parsed.errors).to.deep.equal([])
    expect(parsed.objects[0].object.data).to.deep.equal({k: '3', m: '1', p: '1'})
    expect(parsed.warnings.map((w) => w.line)).to.deep.equal([5, 8, 9, 12])
  })

  it('duplicate keys are named in the document they are in', () => {
    const text = 'kind: A\nkind: B\n---\nkind: C\n---\nkind: D\nkind: E\nkind: F\n'
    const parsed = parseManifests(text, 'x.yaml')
    expect(parsed.warnings.map((w) => w.line)).to.deep.equal([2, 7, 8])
  })
})

import {CONTAINER_FIELDS, getIn, type Path, podSpecPathOf} from './workloads.js'

/**
 * The shape Kubernetes requires of the fields the audit reads, checked before any check runs: the
 * API server (and kubectl's decoding into typed objects) refuses an object whose
 * `imagePullSecrets` is a mapping or whose `capabilities.drop` is a string, so such an object is
 * reported (file:line and the field) instead of audited, and the run goes on. `null` is absent,
 * as it is for Kubernetes. Pure.
 */

export interface ShapeProblem {
  path: Path
  message: string
}

type Kind = 'string' | 'boolean' | 'integer' | 'mapping' | 'list'

/** What is wrong with `value` for a field of that kind, or undefined (absent and null are fine). */
function problemOf(value: unknown, kind: Kind, source?: string, showValue = false): string | undefined {
  if (value === undefined || value === null) return undefined
  switch (kind) {
    case 'string':
      if (typeof value === 'string') return undefined
      // `image: {{ .Values.image }}` parses as a mapping: say what it really is.
      if (source?.trimStart().startsWith('{{'))
        return 'looks like an unrendered template ({{ … }}); render it first (helm template …)'
      // The value is named only for an image (a Secret's data may hold a number that is a secret).
      if ((typeof value === 'number' || typeof value === 'boolean') && showValue)
        return `expected a string, not the ${typeof value} ${String(value)} (quote it: "${String(value)}")`
      if (typeof value === 'number' || typeof value === 'boolean')
        return `expected a string, not a ${typeof value} (quote it)`
      return 'expected a string'
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'expected true or false'
    case 'integer':
      return Number.isInteger(value) ? undefined : 'expected an integer'
    case 'mapping':
      return typeof value === 'object' && !Array.isArray(value) ? undefined : 'expected a mapping'
    case 'list':
      return Array.isArray(value) ? undefined : 'expected a list'
  }
}

/** `spec.template.spec.containers[0].image` */
export function fieldName(path: Path): string {
  return (
    path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('') ||
    '(document)'
  )
}

const CONTAINER_FIELD_KINDS: Array<[Path, Kind]> = [
  [['name'], 'string'],
  [['image'], 'string'],
  [['imagePullPolicy'], 'string'],
  [['securityContext'], 'mapping'],
  [['securityContext', 'privileged'], 'boolean'],
  [['securityContext', 'allowPrivilegeEscalation'], 'boolean'],
  [['securityContext', 'readOnlyRootFilesystem'], 'boolean'],
  [['securityContext', 'runAsNonRoot'], 'boolean'],
  [['securityContext', 'runAsUser'], 'integer'],
  [['securityContext', 'capabilities'], 'mapping'],
  [['securityContext', 'capabilities', 'add'], 'list'],
  [['securityContext', 'capabilities', 'drop'], 'list'],
  [['resources'], 'mapping'],
  [['resources', 'limits'], 'mapping'],
  [['resources', 'requests'], 'mapping'],
]

const POD_FIELD_KINDS: Array<[Path, Kind]> = [
  [['serviceAccountName'], 'string'],
  [['serviceAccount'], 'string'],
  [['securityContext'], 'mapping'],
  [['securityContext', 'runAsNonRoot'], 'boolean'],
  [['securityContext', 'runAsUser'], 'integer'],
  ...CONTAINER_FIELDS.map((field): [Path, Kind] => [[field], 'list']),
]

const METADATA_FIELD_KINDS: Array<[Path, Kind]> = [
  [['metadata'], 'mapping'],
  [['metadata', 'name'], 'string'],
  [['metadata', 'generateName'], 'string'],
  [['metadata', 'namespace'], 'string'],
  [['metadata', 'annotations'], 'mapping'],
]

/**
 * Every shape problem of one object, each with the path of its field. `sourceAt` gives the
 * written text of a field (to recognise an unrendered template).
 */
export function shapeProblems(
  object: Record<string, any>,
  sourceAt: (path: Path) => string | undefined = () => undefined,
): ShapeProblem[] {
  const problems: ShapeProblem[] = []
  const check = (path: Path, kind: Kind) => {
    const message = problemOf(
      getIn(object, path),
      kind,
      kind === 'string' ? sourceAt(path) : undefined,
      path.at(-1) === 'image',
    )
    if (message) problems.push({path, message})
    return !message
  }
  const checkAll = (prefix: Path, table: Array<[Path, Kind]>) => {
    for (const [path, kind] of table) {
      // A field under a wrong-shaped parent is not checked again.
      if (problems.some((p) => startsWith([...prefix, ...path], p.path))) continue
      check([...prefix, ...path], kind)
    }
  }
  if (
    typeof object.kind !== 'string' ||
    typeof object.apiVersion !== 'string' ||
    object.kind === '' ||
    object.apiVersion === ''
  ) {
    return [{path: [], message: 'not a Kubernetes object (expected apiVersion and kind)'}]
  }
  checkAll([], METADATA_FIELD_KINDS)
  const annotations = getIn(object, ['metadata', 'annotations'])
  if (annotations && typeof annotations === 'object' && !Array.isArray(annotations)) {
    for (const key of Object.keys(annotations)) check(['metadata', 'annotations', key], 'string')
  }
  if (object.kind === 'ServiceAccount') checkNameList(object, ['imagePullSecrets'], check)
  if (object.kind === 'Secret') {
    check(['type'], 'string')
    for (const field of ['data', 'stringData']) {
      const value = getIn(object, [field])
      if (check([field], 'mapping') && value) for (const key of Object.keys(value)) check([field, key], 'string')
    }
  }
  const found = podSpecPathOf(object)
  if (!found) return problems
  // Every step down to the pod spec must be a mapping.
  for (let length = 1; length <= found.path.length; length++) {
    if (!check(found.path.slice(0, length), 'mapping')) return problems
  }
  const podSpec = found.path
  if (getIn(object, podSpec) === undefined || getIn(object, podSpec) === null) return problems
  checkAll(podSpec, POD_FIELD_KINDS)
  checkNameList(object, [...podSpec, 'imagePullSecrets'], check)
  for (const field of CONTAINER_FIELDS) {
    const list = getIn(object, [...podSpec, field])
    if (!Array.isArray(list)) continue
    list.forEach((_container, index) => {
      const at = [...podSpec, field, index]
      if (!check(at, 'mapping') || !getIn(object, at)) return
      checkAll(at, CONTAINER_FIELD_KINDS)
      for (const list of ['add', 'drop']) {
        const values = getIn(object, [...at, 'securityContext', 'capabilities', list])
        if (Array.isArray(values))
          values.forEach((_value, i) => check([...at, 'securityContext', 'capabilities', list, i], 'string'))
      }
    })
  }
  return problems
}

/** `imagePullSecrets: [{name: regcred}]`: a list of mappings whose `name` is a string. */
function checkNameList(object: Record<string, any>, path: Path, check: (path: Path, kind: Kind) => boolean): void {
  const list = getIn(object, path)
  if (!check(path, 'list') || !Array.isArray(list)) return
  list.forEach((_entry, index) => {
    if (check([...path, index], 'mapping')) check([...path, index, 'name'], 'string')
  })
}

function startsWith(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((part, i) => path[i] === part)
}

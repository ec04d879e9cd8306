// kubectl's typed generators (`kubectl create secret|configmap|namespace|
// serviceaccount|deployment|job|cronjob|service`) POST Kubernetes protobuf and do
// not fall back to JSON on 415, so the fake decodes that wire format for the
// kinds those generators produce. Field numbers come from k8s.io/api's
// generated.proto; fields not listed are skipped, which only loses data a
// generator never sets.
//
// Type mini-language: scalar ('string' | 'bytes' | 'int' | 'bool'), 'time',
// 'quantity', 'intstr', 'map:<scalar|quantity>', or a message name; a '[]'
// prefix repeats it, a '?' suffix marks a Go pointer (kept even when zero). A
// field named '' is embedded: its fields are merged into the parent, as Go's
// JSON encoding of an embedded struct does.

import {isObject, type Json} from './json.js'
import {PatchError} from './json-patch.js'

type FieldSpec = [name: string, type: string]

const PROTO: Record<string, Record<number, FieldSpec>> = {
  ObjectMeta: {
    1: ['name', 'string'],
    2: ['generateName', 'string'],
    3: ['namespace', 'string'],
    5: ['uid', 'string'],
    6: ['resourceVersion', 'string'],
    7: ['generation', 'int'],
    8: ['creationTimestamp', 'time'],
    9: ['deletionTimestamp', 'time'],
    10: ['deletionGracePeriodSeconds', 'int?'],
    11: ['labels', 'map:string'],
    12: ['annotations', 'map:string'],
    13: ['ownerReferences', '[]OwnerReference'],
    14: ['finalizers', '[]string'],
  },
  OwnerReference: {
    1: ['kind', 'string'],
    3: ['name', 'string'],
    4: ['uid', 'string'],
    5: ['apiVersion', 'string'],
    6: ['controller', 'bool?'],
    7: ['blockOwnerDeletion', 'bool?'],
  },
  ObjectReference: {
    1: ['kind', 'string'],
    2: ['namespace', 'string'],
    3: ['name', 'string'],
    4: ['uid', 'string'],
    5: ['apiVersion', 'string'],
    6: ['resourceVersion', 'string'],
    7: ['fieldPath', 'string'],
  },
  LocalObjectReference: {1: ['name', 'string']},
  Empty: {},
  Secret: {
    1: ['metadata', 'ObjectMeta'],
    2: ['data', 'map:bytes'],
    3: ['type', 'string'],
    4: ['stringData', 'map:string'],
    5: ['immutable', 'bool?'],
  },
  ConfigMap: {
    1: ['metadata', 'ObjectMeta'],
    2: ['data', 'map:string'],
    3: ['binaryData', 'map:bytes'],
    4: ['immutable', 'bool?'],
  },
  Namespace: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'NamespaceSpec'], 3: ['status', 'NamespaceStatus']},
  NamespaceSpec: {1: ['finalizers', '[]string']},
  NamespaceStatus: {1: ['phase', 'string']},
  ServiceAccount: {
    1: ['metadata', 'ObjectMeta'],
    2: ['secrets', '[]ObjectReference'],
    3: ['imagePullSecrets', '[]LocalObjectReference'],
    4: ['automountServiceAccountToken', 'bool?'],
  },
  Service: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'ServiceSpec'], 3: ['status', 'Empty']},
  ServiceSpec: {
    1: ['ports', '[]ServicePort'],
    2: ['selector', 'map:string'],
    3: ['clusterIP', 'string'],
    4: ['type', 'string'],
    5: ['externalIPs', '[]string'],
    7: ['sessionAffinity', 'string'],
    8: ['loadBalancerIP', 'string'],
    10: ['externalName', 'string'],
    11: ['externalTrafficPolicy', 'string'],
    18: ['clusterIPs', '[]string'],
    19: ['ipFamilies', '[]string'],
  },
  ServicePort: {
    1: ['name', 'string'],
    2: ['protocol', 'string'],
    3: ['port', 'int'],
    4: ['targetPort', 'intstr'],
    5: ['nodePort', 'int'],
  },
  Pod: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'PodSpec'], 3: ['status', 'Empty']},
  Deployment: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'DeploymentSpec'], 3: ['status', 'Empty']},
  DeploymentSpec: {
    1: ['replicas', 'int?'],
    2: ['selector', 'LabelSelector'],
    3: ['template', 'PodTemplateSpec'],
    4: ['strategy', 'DeploymentStrategy'],
    5: ['minReadySeconds', 'int'],
    6: ['revisionHistoryLimit', 'int?'],
    7: ['paused', 'bool'],
    9: ['progressDeadlineSeconds', 'int?'],
  },
  DeploymentStrategy: {1: ['type', 'string'], 2: ['rollingUpdate', 'RollingUpdateDeployment']},
  RollingUpdateDeployment: {1: ['maxUnavailable', 'intstr'], 2: ['maxSurge', 'intstr']},
  Job: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'JobSpec'], 3: ['status', 'Empty']},
  JobSpec: {
    1: ['parallelism', 'int?'],
    2: ['completions', 'int?'],
    3: ['activeDeadlineSeconds', 'int?'],
    4: ['selector', 'LabelSelector'],
    5: ['manualSelector', 'bool?'],
    6: ['template', 'PodTemplateSpec'],
    7: ['backoffLimit', 'int?'],
    8: ['ttlSecondsAfterFinished', 'int?'],
    9: ['completionMode', 'string?'],
    10: ['suspend', 'bool?'],
  },
  CronJob: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'CronJobSpec'], 3: ['status', 'Empty']},
  CronJobSpec: {
    1: ['schedule', 'string'],
    2: ['startingDeadlineSeconds', 'int?'],
    3: ['concurrencyPolicy', 'string'],
    4: ['suspend', 'bool?'],
    5: ['jobTemplate', 'JobTemplateSpec'],
    6: ['successfulJobsHistoryLimit', 'int?'],
    7: ['failedJobsHistoryLimit', 'int?'],
    8: ['timeZone', 'string?'],
  },
  JobTemplateSpec: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'JobSpec']},
  LabelSelector: {1: ['matchLabels', 'map:string'], 2: ['matchExpressions', '[]LabelSelectorRequirement']},
  LabelSelectorRequirement: {1: ['key', 'string'], 2: ['operator', 'string'], 3: ['values', '[]string']},
  PodTemplateSpec: {1: ['metadata', 'ObjectMeta'], 2: ['spec', 'PodSpec']},
  PodSpec: {
    1: ['volumes', '[]Volume'],
    2: ['containers', '[]Container'],
    3: ['restartPolicy', 'string'],
    4: ['terminationGracePeriodSeconds', 'int?'],
    5: ['activeDeadlineSeconds', 'int?'],
    6: ['dnsPolicy', 'string'],
    7: ['nodeSelector', 'map:string'],
    8: ['serviceAccountName', 'string'],
    9: ['serviceAccount', 'string'],
    10: ['nodeName', 'string'],
    11: ['hostNetwork', 'bool'],
    12: ['hostPID', 'bool'],
    13: ['hostIPC', 'bool'],
    15: ['imagePullSecrets', '[]LocalObjectReference'],
    16: ['hostname', 'string'],
    17: ['subdomain', 'string'],
    19: ['schedulerName', 'string'],
    20: ['initContainers', '[]Container'],
    21: ['automountServiceAccountToken', 'bool?'],
    24: ['priorityClassName', 'string'],
    25: ['priority', 'int?'],
    30: ['enableServiceLinks', 'bool?'],
  },
  Container: {
    1: ['name', 'string'],
    2: ['image', 'string'],
    3: ['command', '[]string'],
    4: ['args', '[]string'],
    5: ['workingDir', 'string'],
    6: ['ports', '[]ContainerPort'],
    7: ['env', '[]EnvVar'],
    8: ['resources', 'ResourceRequirements'],
    9: ['volumeMounts', '[]VolumeMount'],
    13: ['terminationMessagePath', 'string'],
    14: ['imagePullPolicy', 'string'],
    16: ['stdin', 'bool'],
    17: ['stdinOnce', 'bool'],
    18: ['tty', 'bool'],
    20: ['terminationMessagePolicy', 'string'],
  },
  ContainerPort: {
    1: ['name', 'string'],
    2: ['hostPort', 'int'],
    3: ['containerPort', 'int'],
    4: ['protocol', 'string'],
    5: ['hostIP', 'string'],
  },
  EnvVar: {1: ['name', 'string'], 2: ['value', 'string'], 3: ['valueFrom', 'EnvVarSource']},
  EnvVarSource: {
    1: ['fieldRef', 'ObjectFieldSelector'],
    3: ['configMapKeyRef', 'KeySelector'],
    4: ['secretKeyRef', 'KeySelector'],
  },
  ObjectFieldSelector: {1: ['apiVersion', 'string'], 2: ['fieldPath', 'string']},
  KeySelector: {1: ['', 'LocalObjectReference'], 2: ['key', 'string'], 3: ['optional', 'bool?']},
  ResourceRequirements: {1: ['limits', 'map:quantity'], 2: ['requests', 'map:quantity']},
  VolumeMount: {
    1: ['name', 'string'],
    2: ['readOnly', 'bool'],
    3: ['mountPath', 'string'],
    4: ['subPath', 'string'],
    5: ['mountPropagation', 'string?'],
    6: ['subPathExpr', 'string'],
  },
  Volume: {1: ['name', 'string'], 2: ['', 'VolumeSource']},
  VolumeSource: {
    1: ['hostPath', 'HostPathVolumeSource'],
    2: ['emptyDir', 'EmptyDirVolumeSource'],
    6: ['secret', 'SecretVolumeSource'],
    10: ['persistentVolumeClaim', 'PVCVolumeSource'],
    19: ['configMap', 'ConfigMapVolumeSource'],
  },
  HostPathVolumeSource: {1: ['path', 'string'], 2: ['type', 'string?']},
  EmptyDirVolumeSource: {1: ['medium', 'string'], 2: ['sizeLimit', 'quantity']},
  SecretVolumeSource: {
    1: ['secretName', 'string'],
    2: ['items', '[]KeyToPath'],
    3: ['defaultMode', 'int?'],
    4: ['optional', 'bool?'],
  },
  ConfigMapVolumeSource: {
    1: ['', 'LocalObjectReference'],
    2: ['items', '[]KeyToPath'],
    3: ['defaultMode', 'int?'],
    4: ['optional', 'bool?'],
  },
  PVCVolumeSource: {1: ['claimName', 'string'], 2: ['readOnly', 'bool']},
  KeyToPath: {1: ['key', 'string'], 2: ['path', 'string'], 3: ['mode', 'int?']},
  TypeMeta: {1: ['apiVersion', 'string'], 2: ['kind', 'string']},
  Unknown: {
    1: ['typeMeta', 'TypeMeta'],
    2: ['raw', 'raw'],
    3: ['contentEncoding', 'string'],
    4: ['contentType', 'string'],
  },
  Quantity: {1: ['string', 'string']},
  IntOrString: {1: ['type', 'int'], 2: ['intVal', 'int'], 3: ['strVal', 'string']},
  Time: {1: ['seconds', 'int'], 2: ['nanos', 'int']},
  MapEntry: {1: ['key', 'raw'], 2: ['value', 'raw']},
}

/** The magic prefix of every Kubernetes protobuf body. */
export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00])

interface RawField {
  number: number
  wire: number
  value: bigint | Buffer
}

function readVarint(buf: Buffer, start: number): [bigint, number] {
  let result = 0n
  let shift = 0n
  let pos = start
  for (;;) {
    if (pos >= buf.length) throw new PatchError('protobuf: truncated varint')
    const byte = buf[pos++]
    result |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return [result, pos]
    shift += 7n
    if (shift > 70n) throw new PatchError('protobuf: varint too long')
  }
}

function readFields(buf: Buffer): RawField[] {
  const fields: RawField[] = []
  let pos = 0
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos)
    pos = afterKey
    const number = Number(key >> 3n)
    const wire = Number(key & 7n)
    if (wire === 0) {
      const [value, next] = readVarint(buf, pos)
      fields.push({number, wire, value})
      pos = next
    } else if (wire === 2) {
      const [length, next] = readVarint(buf, pos)
      const end = next + Number(length)
      if (end > buf.length) throw new PatchError('protobuf: truncated field')
      fields.push({number, wire, value: buf.subarray(next, end)})
      pos = end
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4
      fields.push({number, wire, value: buf.subarray(pos, pos + size)})
      pos += size
    } else throw new PatchError(`protobuf: unsupported wire type ${wire}`)
  }
  return fields
}

function decodeScalar(field: RawField, type: string): unknown {
  const bytes = () => {
    if (!Buffer.isBuffer(field.value)) throw new PatchError(`protobuf: field ${field.number} is not length-delimited`)
    return field.value
  }
  switch (type) {
    case 'string':
      return bytes().toString('utf8')
    case 'bytes':
      return bytes().toString('base64')
    case 'raw':
      return bytes()
    case 'int':
      if (typeof field.value !== 'bigint') throw new PatchError(`protobuf: field ${field.number} is not a varint`)
      return Number(BigInt.asIntN(64, field.value))
    case 'bool':
      return field.value !== 0n
    case 'quantity':
      return decodeMessage(bytes(), 'Quantity').string ?? '0'
    case 'intstr': {
      const v = decodeMessage(bytes(), 'IntOrString')
      return v.type === 1 ? (v.strVal ?? '') : (v.intVal ?? 0)
    }
    case 'time': {
      const t = decodeMessage(bytes(), 'Time')
      if (!t.seconds && !t.nanos) return undefined
      return new Date(Number(t.seconds ?? 0) * 1000).toISOString().replace(/\.\d+Z$/, 'Z')
    }
    default:
      return decodeMessage(bytes(), type)
  }
}

const isZero = (value: unknown) => value === '' || value === 0 || value === false || value === undefined

function decodeMessage(buf: Buffer, type: string): Record<string, Json> {
  const schema = PROTO[type]
  if (!schema) throw new PatchError(`protobuf: no schema for ${type}`)
  const out: Record<string, Json> = {}
  for (const field of readFields(buf)) {
    const spec = schema[field.number]
    if (!spec) continue
    const [name, rawType] = spec
    const repeated = rawType.startsWith('[]')
    const pointer = rawType.endsWith('?')
    const t = rawType.replace(/^\[\]/, '').replace(/\?$/, '')
    if (t.startsWith('map:')) {
      const entry = decodeMessage(field.value as Buffer, 'MapEntry')
      const key = (entry.key as Buffer | undefined)?.toString('utf8') ?? ''
      const value = decodeScalar(
        {number: 2, wire: 2, value: (entry.value as Buffer | undefined) ?? Buffer.alloc(0)},
        t.slice(4),
      )
      out[name] = {...out[name], [key]: value}
      continue
    }
    const value = decodeScalar(field, t)
    if (name === '') Object.assign(out, value)
    else if (repeated) (out[name] ??= []).push(value)
    else if (!isZero(value) || (pointer && value !== undefined) || isObject(value)) out[name] = value
  }
  return out
}

/**
 * Decodes a `k8s\0`-prefixed runtime.Unknown envelope into the JSON form the
 * REST API would have received. Throws PatchError when the kind is not modelled.
 */
export function decodeKubeProtobuf(body: Buffer): Record<string, Json> {
  if (body.length < 4 || !body.subarray(0, 4).equals(PROTOBUF_MAGIC))
    throw new PatchError('provided object is not a Kubernetes protobuf message: missing magic prefix')
  const envelope = decodeMessage(body.subarray(4), 'Unknown')
  const kind: string | undefined = envelope.typeMeta?.kind
  const apiVersion: string | undefined = envelope.typeMeta?.apiVersion
  if (!kind || !PROTO[kind] || !PROTO[kind][1] || PROTO[kind][1][1] !== 'ObjectMeta') {
    throw new PatchError(`no protobuf decoder in the fake API server for kind ${JSON.stringify(kind)}`)
  }
  return {apiVersion, kind, ...decodeMessage((envelope.raw as Buffer | undefined) ?? Buffer.alloc(0), kind)}
}

// Contract tests for the fake API server (issue 9): one table of cases, each run against the
// in-process fake (test/support/fake-kube-api.ts) AND the real kube-apiserver, asserting that both
// give the same observable answer — status codes, metav1.Status bodies (reason, code, details,
// message), and the fields of the objects our tool reads. So the fake cannot drift from Kubernetes
// without this file failing.
//
// Only what legitimately differs between two servers is normalised: uids, timestamps,
// resourceVersion values (relations between them are kept as booleans), managedFields and
// continue tokens (opaque; their presence is kept). Nothing else is loosened.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import * as http from 'node:http'
import * as https from 'node:https'
import {parse as parseYaml} from 'yaml'

import type {ControlPlane, TlsIdentity} from '../control-plane/control-plane.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {describeReal, freshNamespace, sharedControlPlane} from './support.js'

/** A user with no RBAC grants (real: a client certificate nobody bound a role to). */
const NOBODY = 'imgsec-contract-nobody'

interface Reply {
  status: number
  contentType: string | undefined
  body: any
}

type Http = (method: string, path: string, body?: unknown, contentType?: string) => Promise<Reply>

function client(base: string, tls?: TlsIdentity): Http {
  return (method, path, body, contentType = 'application/json') =>
    new Promise((resolve, reject) => {
      const text = body === undefined ? undefined : JSON.stringify(body)
      const headers: Record<string, string | number> = {Accept: 'application/json'}
      if (text !== undefined)
        Object.assign(headers, {'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text)})
      const options = {method, headers, timeout: 15_000, ...(tls ? {ca: tls.ca, cert: tls.cert, key: tls.key} : {})}
      const url = new URL(path, base)
      const req = (url.protocol === 'https:' ? https.request : http.request)(url, options, (res) => {
        let data = ''
        res.setEncoding('utf8').on('data', (chunk: string) => (data += chunk))
        res.on('end', () => {
          let parsed: unknown = data
          try {
            parsed = JSON.parse(data)
          } catch {}
          resolve({status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: parsed})
        })
      })
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)))
      req.on('error', reject)
      req.end(text)
    })
}

/** One server as the cases see it: cluster-admin, a user without grants, and a namespace of its own. */
interface Side {
  label: 'fake' | 'real'
  admin: Http
  nobody: Http
  ns: string
}

/** Server-assigned values that differ between any two servers, replaced by placeholders. */
function normalise(value: any): any {
  if (Array.isArray(value)) return value.map(normalise)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, any> = {}
  for (const [key, v] of Object.entries(value)) {
    if (key === 'managedFields') continue
    if (key === 'uid' && typeof v === 'string') out[key] = '<uid>'
    else if (key === 'creationTimestamp' && typeof v === 'string') out[key] = '<timestamp>'
    else if (key === 'resourceVersion' && typeof v === 'string' && v !== '')
      out[key] = /^\d+$/.test(v) ? '<rv>' : `<not a number: ${v}>`
    else if (key === 'continue' && typeof v === 'string' && v !== '') out[key] = '<continue>'
    else out[key] = normalise(v)
  }
  return out
}

/** Where two observations differ, one line per path: readable where a deep-equal diff is truncated. */
function differences(fake: unknown, real: unknown, path = ''): string[] {
  if (JSON.stringify(fake) === JSON.stringify(real)) return []
  const bothObjects =
    fake !== null &&
    real !== null &&
    typeof fake === 'object' &&
    typeof real === 'object' &&
    Array.isArray(fake) === Array.isArray(real)
  if (!bothObjects) return [`${path || '(root)'}: fake ${JSON.stringify(fake)} / real ${JSON.stringify(real)}`]
  const keys = [...new Set([...Object.keys(fake as object), ...Object.keys(real as object)])]
  return keys.flatMap((key) =>
    differences((fake as any)[key], (real as any)[key], Array.isArray(fake) ? `${path}[${key}]` : `${path}.${key}`),
  )
}

const seen = (reply: Reply) => ({status: reply.status, contentType: reply.contentType, body: normalise(reply.body)})

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')
const secret = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: {name},
  type: 'Opaque',
  data: {k: b64('v')},
  ...extra,
})
const serviceAccount = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: {name},
  ...extra,
})
const JSON_PATCH = 'application/json-patch+json'
const MERGE_PATCH = 'application/merge-patch+json'
const STRATEGIC_PATCH = 'application/strategic-merge-patch+json'

async function mustCreate(api: Http, path: string, body: unknown): Promise<any> {
  const reply = await api('POST', path, body)
  if (reply.status !== 201) throw new Error(`POST ${path}: ${reply.status} ${JSON.stringify(reply.body)}`)
  return reply.body
}

interface ContractCase {
  name: string
  /** What one server answered, normalised; both servers must give the deep-equal observation. */
  run(side: Side): Promise<unknown>
  /** The contract in plain terms, checked on the (common) observation. */
  check?(observed: any): void
}

const CASES: ContractCase[] = [
  // ---------------------------------------------------------------- Status errors
  {
    name: 'GET of a missing object: 404 NotFound naming the object, with group for a grouped resource',
    async run({admin, ns}) {
      return [
        seen(await admin('GET', `/api/v1/namespaces/${ns}/secrets/ghost`)),
        seen(await admin('GET', `/apis/apps/v1/namespaces/${ns}/deployments/ghost`)),
      ]
    },
    check([core, apps]) {
      expect(core).to.deep.equal({
        status: 404,
        contentType: 'application/json',
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: 'secrets "ghost" not found',
          reason: 'NotFound',
          details: {name: 'ghost', kind: 'secrets'},
          code: 404,
        },
      })
      expect(apps.body).to.deep.include({
        reason: 'NotFound',
        message: 'deployments.apps "ghost" not found',
        details: {name: 'ghost', group: 'apps', kind: 'deployments'},
      })
    },
  },
  {
    name: 'create in a missing namespace: 404 whose details name the namespace (describeApiError relies on it)',
    async run({admin, ns}) {
      return seen(await admin('POST', `/api/v1/namespaces/${ns}-missing/secrets`, secret('x')))
    },
    check(observed) {
      expect(observed.status).to.equal(404)
      expect(observed.body).to.deep.include({
        reason: 'NotFound',
        details: {name: observed.body.details.name, kind: 'namespaces'},
      })
      expect(observed.body.details.name).to.match(/-missing$/)
    },
  },
  {
    name: 'create of an existing name: 409 AlreadyExists',
    async run({admin, ns}) {
      const first = await admin('POST', `/api/v1/namespaces/${ns}/secrets`, secret('dup'))
      const second = await admin('POST', `/api/v1/namespaces/${ns}/secrets`, secret('dup'))
      return {first: first.status, second: seen(second)}
    },
    check({first, second}) {
      expect(first).to.equal(201)
      expect(second).to.deep.equal({
        status: 409,
        contentType: 'application/json',
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: 'secrets "dup" already exists',
          reason: 'AlreadyExists',
          details: {name: 'dup', kind: 'secrets'},
          code: 409,
        },
      })
    },
  },
  {
    name: 'PUT with a stale resourceVersion: 409 Conflict, nothing changed',
    async run({admin, ns}) {
      const created = await mustCreate(admin, `/api/v1/namespaces/${ns}/secrets`, secret('stale'))
      const first = await admin('PUT', `/api/v1/namespaces/${ns}/secrets/stale`, {...created, data: {k: b64('1')}})
      const stale = await admin('PUT', `/api/v1/namespaces/${ns}/secrets/stale`, {...created, data: {k: b64('2')}})
      const stored = await admin('GET', `/api/v1/namespaces/${ns}/secrets/stale`)
      return {first: first.status, stale: seen(stale), stored: stored.body.data}
    },
    check({first, stale, stored}) {
      expect(first).to.equal(200)
      expect(stale.status).to.equal(409)
      expect(stale.body).to.deep.include({reason: 'Conflict', details: {name: 'stale', kind: 'secrets'}})
      expect(stored).to.deep.equal({k: b64('1')})
    },
  },
  {
    name: 'a bad name: 422 Invalid with the Kind in details and one cause per field',
    async run({admin, ns}) {
      return [
        seen(await admin('POST', `/api/v1/namespaces/${ns}/secrets`, secret('Bad_Name'))),
        seen(await admin('POST', `/api/v1/namespaces/${ns}/secrets`, secret('a'.repeat(254)))),
        seen(await admin('POST', `/api/v1/namespaces/${ns}/secrets`, secret('B'.repeat(254)))),
        seen(await admin('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, serviceAccount('under_score'))),
        seen(await admin('POST', '/api/v1/namespaces', {apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'a.b'}})),
      ]
    },
    check([bad]) {
      expect(bad.status).to.equal(422)
      expect(bad.body).to.deep.include({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'Invalid',
        code: 422,
      })
      expect(bad.body.message).to.match(
        /^Secret "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/,
      )
      expect(bad.body.details).to.deep.include({name: 'Bad_Name', kind: 'Secret'})
      expect(bad.body.details.causes).to.have.length(1)
      expect(bad.body.details.causes[0]).to.include({reason: 'FieldValueInvalid', field: 'metadata.name'})
    },
  },
  {
    name: 'a user without RBAC grants: 403 Forbidden naming user, verb, resource and scope',
    async run({nobody, ns}) {
      return [
        seen(await nobody('GET', `/api/v1/namespaces/${ns}/secrets/anything`)),
        seen(await nobody('GET', `/api/v1/namespaces/${ns}/secrets`)),
        seen(await nobody('POST', `/api/v1/namespaces/${ns}/secrets`, secret('x'))),
        seen(
          await nobody(
            'PATCH',
            `/api/v1/namespaces/${ns}/serviceaccounts/default`,
            [{op: 'add', path: '/imagePullSecrets', value: [{name: 'x'}]}],
            JSON_PATCH,
          ),
        ),
        seen(await nobody('GET', '/api/v1/namespaces')),
        seen(await nobody('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/web`, {}, MERGE_PATCH)),
      ]
    },
    check([get, list, create, , namespaces, apps]) {
      expect(get).to.deep.equal({
        status: 403,
        contentType: 'application/json',
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `secrets "anything" is forbidden: User "${NOBODY}" cannot get resource "secrets" in API group "" in the namespace "${get.body.message.match(/namespace "([^"]+)"/)?.[1]}"`,
          reason: 'Forbidden',
          details: {name: 'anything', kind: 'secrets'},
          code: 403,
        },
      })
      expect(list.body.message).to.match(
        new RegExp(
          `^secrets is forbidden: User "${NOBODY}" cannot list resource "secrets" in API group "" in the namespace "`,
        ),
      )
      expect(create.body.details).to.deep.equal({kind: 'secrets'})
      expect(namespaces.body.message).to.equal(
        `namespaces is forbidden: User "${NOBODY}" cannot list resource "namespaces" in API group "" at the cluster scope`,
      )
      expect(apps.body.details).to.deep.equal({name: 'web', group: 'apps', kind: 'deployments'})
    },
  },

  // ---------------------------------------------------------------- SelfSubjectAccessReview
  {
    name: 'SelfSubjectAccessReview: allowed for cluster-admin, refused for a user without grants, who may still ask',
    async run({admin, nobody, ns}) {
      const review = (verb: string, resource: string, namespace?: string, group = '') => ({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: {resourceAttributes: {verb, resource, group, ...(namespace ? {namespace} : {})}},
      })
      const ask = async (api: Http, body: unknown) =>
        seen(await api('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', body))
      return {
        admin: await ask(admin, review('create', 'secrets', ns)),
        nobody: await ask(nobody, review('create', 'secrets', ns)),
        nobodyClusterScope: await ask(nobody, review('list', 'namespaces')),
        nobodyGrouped: await ask(nobody, review('patch', 'deployments', ns, 'apps')),
        nobodyMayAsk: await ask(
          nobody,
          review('create', 'selfsubjectaccessreviews', undefined, 'authorization.k8s.io'),
        ),
      }
    },
    check(observed) {
      expect(observed.admin.status).to.equal(201)
      expect(observed.admin.body.status.allowed).to.equal(true)
      expect(observed.nobody.status).to.equal(201)
      expect(observed.nobody.body.status.allowed).to.equal(false)
      expect(observed.nobodyClusterScope.body.status.allowed).to.equal(false)
      expect(observed.nobodyGrouped.body.status.allowed).to.equal(false)
      expect(observed.nobodyMayAsk.body.status.allowed).to.equal(true)
    },
  },

  // ---------------------------------------------------------------- patches (service-accounts.ts)
  {
    name: 'JSON patch testing resourceVersion then appending to imagePullSecrets: applied when the version matches',
    async run({admin, ns}) {
      const path = `/api/v1/namespaces/${ns}/serviceaccounts/jp-ok`
      await mustCreate(
        admin,
        `/api/v1/namespaces/${ns}/serviceaccounts`,
        serviceAccount('jp-ok', {imagePullSecrets: [{name: 'one'}]}),
      )
      const read = (await admin('GET', path)).body
      const patched = await admin(
        'PATCH',
        path,
        [
          {op: 'test', path: '/metadata/resourceVersion', value: read.metadata.resourceVersion},
          {op: 'add', path: '/imagePullSecrets/-', value: {name: 'two'}},
        ],
        JSON_PATCH,
      )
      return {
        patched: seen(patched),
        bumped: patched.body.metadata?.resourceVersion !== read.metadata.resourceVersion,
        stored: (await admin('GET', path)).body.imagePullSecrets,
      }
    },
    check({patched, bumped, stored}) {
      expect(patched.status).to.equal(200)
      expect(patched.body.imagePullSecrets).to.deep.equal([{name: 'one'}, {name: 'two'}])
      expect(bumped).to.equal(true)
      expect(stored).to.deep.equal([{name: 'one'}, {name: 'two'}])
    },
  },
  {
    name: 'JSON patch adding /imagePullSecrets to an account that has none',
    async run({admin, ns}) {
      const path = `/api/v1/namespaces/${ns}/serviceaccounts/jp-none`
      await mustCreate(admin, `/api/v1/namespaces/${ns}/serviceaccounts`, serviceAccount('jp-none'))
      const read = (await admin('GET', path)).body
      const appendToMissing = await admin(
        'PATCH',
        path,
        [{op: 'add', path: '/imagePullSecrets/-', value: {name: 'x'}}],
        JSON_PATCH,
      )
      const notAList = await admin('PATCH', path, {op: 'add', path: '/imagePullSecrets', value: []}, JSON_PATCH)
      const notAnOperation = await admin('PATCH', path, ['add'], JSON_PATCH)
      const patched = await admin(
        'PATCH',
        path,
        [
          {op: 'test', path: '/metadata/resourceVersion', value: read.metadata.resourceVersion},
          {op: 'add', path: '/imagePullSecrets', value: [{name: 'first'}]},
        ],
        JSON_PATCH,
      )
      return {
        appendToMissing: seen(appendToMissing),
        notAList: seen(notAList),
        notAnOperation: seen(notAnOperation),
        patched: seen(patched),
      }
    },
    check({appendToMissing, notAList, notAnOperation, patched}) {
      expect(appendToMissing.status).to.equal(422)
      expect(notAList.status).to.equal(400)
      expect(notAnOperation.status).to.equal(400)
      expect(patched.status).to.equal(200)
      expect(patched.body.imagePullSecrets).to.deep.equal([{name: 'first'}])
    },
  },
  {
    name: 'JSON patch testing a stale resourceVersion: refused (the code service-accounts.ts retries on), nothing changed',
    async run({admin, ns}) {
      const path = `/api/v1/namespaces/${ns}/serviceaccounts/jp-stale`
      await mustCreate(
        admin,
        `/api/v1/namespaces/${ns}/serviceaccounts`,
        serviceAccount('jp-stale', {imagePullSecrets: [{name: 'one'}]}),
      )
      const read = (await admin('GET', path)).body
      // Someone else changes the account between our read and our patch.
      const other = await admin('PATCH', path, {metadata: {labels: {changed: 'yes'}}}, MERGE_PATCH)
      const refused = await admin(
        'PATCH',
        path,
        [
          {op: 'test', path: '/metadata/resourceVersion', value: read.metadata.resourceVersion},
          {op: 'add', path: '/imagePullSecrets/-', value: {name: 'two'}},
        ],
        JSON_PATCH,
      )
      const after = (await admin('GET', path)).body
      return {
        other: other.status,
        refused: seen(refused),
        unchanged: after.metadata.resourceVersion === other.body.metadata.resourceVersion,
        stored: after.imagePullSecrets,
      }
    },
    check({other, refused, unchanged, stored}) {
      expect(other).to.equal(200)
      // The real kube-apiserver answers a failed `test` with 422 Invalid (not 409).
      expect(refused.status).to.equal(422)
      expect(refused.body).to.deep.include({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'Invalid',
        code: 422,
      })
      expect(unchanged).to.equal(true)
      expect(stored).to.deep.equal([{name: 'one'}])
    },
  },
  {
    name: 'merge patch replaces imagePullSecrets whole and deletes a key set to null',
    async run({admin, ns}) {
      const path = `/api/v1/namespaces/${ns}/serviceaccounts/mp`
      await mustCreate(
        admin,
        `/api/v1/namespaces/${ns}/serviceaccounts`,
        serviceAccount('mp', {imagePullSecrets: [{name: 'one'}, {name: 'two'}], automountServiceAccountToken: false}),
      )
      const replaced = await admin(
        'PATCH',
        path,
        {imagePullSecrets: [{name: 'three'}], automountServiceAccountToken: null},
        MERGE_PATCH,
      )
      return seen(replaced)
    },
    check(observed) {
      expect(observed.status).to.equal(200)
      expect(observed.body.imagePullSecrets).to.deep.equal([{name: 'three'}])
      expect(observed.body).to.not.have.property('automountServiceAccountToken')
    },
  },
  {
    name: 'strategic merge patch: ServiceAccount.imagePullSecrets is atomic (replaced whole), .secrets merges by name',
    async run({admin, ns}) {
      const path = `/api/v1/namespaces/${ns}/serviceaccounts/smp`
      await mustCreate(
        admin,
        `/api/v1/namespaces/${ns}/serviceaccounts`,
        serviceAccount('smp', {imagePullSecrets: [{name: 'one'}, {name: 'two'}], secrets: [{name: 'tok'}]}),
      )
      const patched = await admin(
        'PATCH',
        path,
        {imagePullSecrets: [{name: 'three'}], secrets: [{name: 'tok2'}], metadata: {labels: {a: 'b'}}},
        STRATEGIC_PATCH,
      )
      // The order of a merged list: live [a, b, c], patch [e, c', d]; and the registry keeps only
      // the name of each entry (fieldPath, namespace dropped), on create as on update.
      const created = await mustCreate(
        admin,
        `/api/v1/namespaces/${ns}/serviceaccounts`,
        serviceAccount('smp-order', {secrets: [{name: 'a', namespace: ns}, {name: 'b'}, {name: 'c'}]}),
      )
      const ordered = await admin(
        'PATCH',
        `${path}-order`,
        {secrets: [{name: 'e'}, {name: 'c', fieldPath: 'x'}, {name: 'd'}]},
        STRATEGIC_PATCH,
      )
      const noop = await admin('PATCH', `${path}-order`, {secrets: [{name: 'c', fieldPath: 'y'}]}, STRATEGIC_PATCH)
      return {
        patched: seen(patched),
        created: created.secrets,
        ordered: ordered.body.secrets,
        noopKeepsVersion: noop.body.metadata.resourceVersion === ordered.body.metadata.resourceVersion,
      }
    },
    check({patched, created, ordered, noopKeepsVersion}) {
      expect(patched.status).to.equal(200)
      expect(patched.body.imagePullSecrets).to.deep.equal([{name: 'three'}])
      expect(patched.body.secrets).to.deep.equal([{name: 'tok2'}, {name: 'tok'}])
      expect(patched.body.metadata.labels).to.deep.equal({a: 'b'})
      expect(created).to.deep.equal([{name: 'a'}, {name: 'b'}, {name: 'c'}])
      expect(ordered, 'new e first; server-only a, b before the live c they preceded').to.deep.equal([
        {name: 'e'},
        {name: 'a'},
        {name: 'b'},
        {name: 'c'},
        {name: 'd'},
      ])
      expect(noopKeepsVersion).to.equal(true)
    },
  },

  {
    name: "strategic merge patch inside a Deployment's pod template: containers, env and imagePullSecrets merge by name, in the real order",
    async run({admin, ns}) {
      const path = `/apis/apps/v1/namespaces/${ns}/deployments/smp`
      await mustCreate(admin, `/apis/apps/v1/namespaces/${ns}/deployments`, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {name: 'smp'},
        spec: {
          replicas: 0,
          selector: {matchLabels: {app: 'smp'}},
          template: {
            metadata: {labels: {app: 'smp'}},
            spec: {
              imagePullSecrets: [{name: 'old'}],
              containers: [
                {name: 'app', image: 'app:1', env: [{name: 'A', value: '1'}]},
                {name: 'sidecar', image: 'side:1'},
                {name: 'third', image: 'third:1'},
              ],
            },
          },
        },
      })
      const patched = await admin(
        'PATCH',
        path,
        {
          spec: {
            template: {
              spec: {
                imagePullSecrets: [{name: 'new'}],
                containers: [
                  {name: 'app', image: 'app:2', env: [{name: 'B', value: '2'}]},
                  {name: 'sidecar', $patch: 'delete'},
                  {name: 'added', image: 'added:1'},
                ],
              },
            },
          },
        },
        STRATEGIC_PATCH,
      )
      const pod = patched.body.spec?.template?.spec ?? {}
      return {
        status: patched.status,
        generation: patched.body.metadata?.generation,
        imagePullSecrets: pod.imagePullSecrets,
        containers: (pod.containers ?? []).map((c: any) => ({
          name: c.name,
          image: c.image,
          ...(c.env ? {env: c.env} : {}),
        })),
      }
    },
    check(observed) {
      expect(observed.status).to.equal(200)
      expect(observed.generation).to.equal(2)
      expect(observed.containers.map((c: any) => c.name)).to.have.members(['app', 'third', 'added'])
    },
  },

  // ---------------------------------------------------------------- dryRun
  {
    name: 'dryRun=All create: 201 with the object as it would be stored, nothing stored',
    async run({admin, ns}) {
      const created = await admin(
        'POST',
        `/api/v1/namespaces/${ns}/secrets?dryRun=All`,
        secret('dry', {stringData: {s: 'x'}}),
      )
      const read = await admin('GET', `/api/v1/namespaces/${ns}/secrets/dry`)
      return {created: seen(created), read: read.status}
    },
    check({created, read}) {
      expect(created.status).to.equal(201)
      expect(created.body.metadata).to.include({name: 'dry'})
      expect(created.body.data).to.deep.equal({k: b64('v'), s: b64('x')})
      expect(read).to.equal(404)
    },
  },
  {
    name: 'dryRun=All still validates, checks existence and authorizes',
    async run({admin, nobody, ns}) {
      await mustCreate(admin, `/api/v1/namespaces/${ns}/secrets`, secret('dry-exists'))
      return {
        badName: seen(await admin('POST', `/api/v1/namespaces/${ns}/secrets?dryRun=All`, secret('Dry_Bad'))),
        exists: seen(await admin('POST', `/api/v1/namespaces/${ns}/secrets?dryRun=All`, secret('dry-exists'))),
        forbidden: seen(await nobody('POST', `/api/v1/namespaces/${ns}/secrets?dryRun=All`, secret('dry-nobody'))),
        badDockerConfig: seen(
          await admin('POST', `/api/v1/namespaces/${ns}/secrets?dryRun=All`, {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {name: 'reg'},
            type: 'kubernetes.io/dockerconfigjson',
            data: {other: b64('{}')},
          }),
        ),
        badValue: seen(await admin('POST', `/api/v1/namespaces/${ns}/secrets?dryRun=Yes`, secret('dry-value'))),
      }
    },
    check(observed) {
      expect(observed.badName.status).to.equal(422)
      expect(observed.exists.status).to.equal(409)
      expect(observed.forbidden.status).to.equal(403)
      expect(observed.badDockerConfig.body.message).to.equal(
        'Secret "reg" is invalid: data[.dockerconfigjson]: Required value',
      )
      expect(observed.badValue.status).to.equal(422)
    },
  },

  // ---------------------------------------------------------------- lists
  {
    name: 'pagination: limit and continue split a list across pages, continue present then absent',
    async run({admin, ns}) {
      const listNs = `${ns}-pages`
      await mustCreate(admin, '/api/v1/namespaces', {apiVersion: 'v1', kind: 'Namespace', metadata: {name: listNs}})
      for (let i = 0; i < 5; i++)
        await mustCreate(
          admin,
          `/api/v1/namespaces/${listNs}/secrets`,
          secret(`page-${i}`, {metadata: {name: `page-${i}`, labels: {tier: i < 4 ? 'web' : 'db'}}}),
        )
      const walk = async (query: string, limit: number) => {
        const pages: unknown[] = []
        const versions: string[] = []
        let token: string | undefined
        do {
          const reply = await admin(
            'GET',
            `/api/v1/namespaces/${listNs}/secrets?limit=${limit}${query}${token ? `&continue=${encodeURIComponent(token)}` : ''}`,
          )
          if (reply.status !== 200) return {failed: seen(reply)}
          pages.push({
            status: reply.status,
            kind: reply.body.kind,
            apiVersion: reply.body.apiVersion,
            metadata: normalise(reply.body.metadata),
            names: reply.body.items.map((s: any) => s.metadata.name),
            kinds: [...new Set(reply.body.items.map((s: any) => `${s.apiVersion}/${s.kind}`))],
          })
          versions.push(reply.body.metadata.resourceVersion)
          token = reply.body.metadata.continue
        } while (token && pages.length < 10)
        return {pages, sameResourceVersionOnEveryPage: versions.every((v) => v === versions[0])}
      }
      const whole = await admin('GET', `/api/v1/namespaces/${listNs}/secrets`)
      return {
        whole: {metadata: normalise(whole.body.metadata), names: whole.body.items.map((s: any) => s.metadata.name)},
        byTwo: await walk('', 2),
        byFive: await walk('', 5),
        selected: await walk('&labelSelector=tier%3Dweb', 3),
        garbage: seen(await admin('GET', `/api/v1/namespaces/${listNs}/secrets?limit=2&continue=garbage`)),
        notBase64: seen(await admin('GET', `/api/v1/namespaces/${listNs}/secrets?limit=2&continue=not-a-token!`)),
        otherVersion: seen(
          await admin(
            'GET',
            `/api/v1/namespaces/${listNs}/secrets?limit=2&continue=${Buffer.from('{"v":"x/v9","rv":5,"start":"a"}').toString('base64url')}`,
          ),
        ),
      }
    },
    check({whole, byTwo, byFive, selected}) {
      expect(whole.metadata).to.deep.equal({resourceVersion: '<rv>'})
      expect(whole.names).to.deep.equal(['page-0', 'page-1', 'page-2', 'page-3', 'page-4'])
      expect(byTwo.pages.map((p: any) => p.names)).to.deep.equal([
        ['page-0', 'page-1'],
        ['page-2', 'page-3'],
        ['page-4'],
      ])
      expect(byTwo.pages.map((p: any) => 'continue' in p.metadata)).to.deep.equal([true, true, false])
      expect(byTwo.sameResourceVersionOnEveryPage).to.equal(true)
      expect(byFive.pages).to.have.length(1)
      expect(selected.pages.flatMap((p: any) => p.names)).to.deep.equal(['page-0', 'page-1', 'page-2', 'page-3'])
    },
  },

  {
    name: 'pagination across namespaces follows the storage keys (namespace/name), continue included',
    async run({admin, ns}) {
      // "<ns>-a-b/..." sorts before "<ns>-a/..." in etcd ('-' < '/'), whatever a namespace-then-name sort would say.
      const label = `contract-order-${ns}`
      for (const name of [`${ns}-a`, `${ns}-a-b`]) {
        await mustCreate(admin, '/api/v1/namespaces', {apiVersion: 'v1', kind: 'Namespace', metadata: {name}})
        for (const secretName of ['x', 'y'])
          await mustCreate(
            admin,
            `/api/v1/namespaces/${name}/secrets`,
            secret(secretName, {metadata: {name: secretName, labels: {[label.slice(0, 63)]: 'yes'}}}),
          )
      }
      const pages: string[][] = []
      let token: string | undefined
      do {
        const reply = await admin(
          'GET',
          `/api/v1/secrets?labelSelector=${encodeURIComponent(label.slice(0, 63))}&limit=3${token ? `&continue=${encodeURIComponent(token)}` : ''}`,
        )
        if (reply.status !== 200) return seen(reply)
        pages.push(reply.body.items.map((s: any) => `${s.metadata.namespace.slice(ns.length)}/${s.metadata.name}`))
        token = reply.body.metadata.continue
      } while (token && pages.length < 5)
      return pages
    },
    check(pages) {
      expect(pages).to.deep.equal([['-a-b/x', '-a-b/y', '-a/x'], ['-a/y']])
    },
  },
  {
    name: 'pagination is one consistent snapshot: later pages do not see writes made after the first',
    async run({admin, ns}) {
      const listNs = `${ns}-snap`
      await mustCreate(admin, '/api/v1/namespaces', {apiVersion: 'v1', kind: 'Namespace', metadata: {name: listNs}})
      for (const name of ['s-1', 's-2', 's-3', 's-4'])
        await mustCreate(admin, `/api/v1/namespaces/${listNs}/secrets`, secret(name))
      const first = await admin('GET', `/api/v1/namespaces/${listNs}/secrets?limit=2`)
      // Between the pages: one created after the first page's end, one deleted, one changed.
      await mustCreate(admin, `/api/v1/namespaces/${listNs}/secrets`, secret('s-2b'))
      const deleted = await admin('DELETE', `/api/v1/namespaces/${listNs}/secrets/s-4`)
      const changed = await admin(
        'PATCH',
        `/api/v1/namespaces/${listNs}/secrets/s-3`,
        {data: {k: b64('changed')}},
        MERGE_PATCH,
      )
      const second = await admin(
        'GET',
        `/api/v1/namespaces/${listNs}/secrets?limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`,
      )
      const fresh = await admin('GET', `/api/v1/namespaces/${listNs}/secrets`)
      const view = (reply: Reply) =>
        reply.body.items.map((s: any) => `${s.metadata.name}=${Buffer.from(s.data.k, 'base64').toString()}`)
      return {
        writes: [deleted.status, changed.status],
        first: view(first),
        second: reply(second),
        secondAtFirstVersion: second.body.metadata?.resourceVersion === first.body.metadata.resourceVersion,
        fresh: view(fresh),
      }
      function reply(r: Reply) {
        return r.status === 200 ? {names: view(r), continue: 'continue' in r.body.metadata} : seen(r)
      }
    },
    check({writes, first, second, secondAtFirstVersion, fresh}) {
      expect(writes).to.deep.equal([200, 200])
      expect(first).to.deep.equal(['s-1=v', 's-2=v'])
      expect(second).to.deep.equal({names: ['s-3=v', 's-4=v'], continue: false})
      expect(secondAtFirstVersion).to.equal(true)
      expect(fresh).to.deep.equal(['s-1=v', 's-2=v', 's-2b=v', 's-3=changed'])
    },
  },

  // ---------------------------------------------------------------- secrets
  {
    name: 'Secret.stringData is folded into data (winning over data for the same key) and never returned',
    async run({admin, ns}) {
      const created = await admin('POST', `/api/v1/namespaces/${ns}/secrets`, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {name: 'folded'},
        data: {k: b64('from-data'), d: b64('only-data')},
        stringData: {k: 'from-stringData', s: 'only-stringData'},
      })
      const read = await admin('GET', `/api/v1/namespaces/${ns}/secrets/folded`)
      const patched = await admin(
        'PATCH',
        `/api/v1/namespaces/${ns}/secrets/folded`,
        {stringData: {p: 'patched'}},
        MERGE_PATCH,
      )
      return {created: seen(created), read: seen(read), patched: seen(patched)}
    },
    check({created, read, patched}) {
      expect(created.status).to.equal(201)
      expect(created.body.data).to.deep.equal({
        k: b64('from-stringData'),
        d: b64('only-data'),
        s: b64('only-stringData'),
      })
      expect(created.body).to.not.have.property('stringData')
      expect(created.body.type).to.equal('Opaque')
      expect(read.body).to.deep.equal(created.body)
      expect(patched.body.data).to.deep.include({p: b64('patched')})
    },
  },
  {
    name: 'Secret.type is immutable: an update or patch changing it is 422, the stored type stays',
    async run({admin, ns}) {
      const created = await mustCreate(admin, `/api/v1/namespaces/${ns}/secrets`, secret('typed'))
      const put = await admin('PUT', `/api/v1/namespaces/${ns}/secrets/typed`, {
        ...created,
        type: 'kubernetes.io/dockerconfigjson',
        data: {'.dockerconfigjson': b64('{"auths":{}}')},
      })
      const patch = await admin(
        'PATCH',
        `/api/v1/namespaces/${ns}/secrets/typed`,
        {type: 'kubernetes.io/dockerconfigjson', data: {'.dockerconfigjson': b64('{"auths":{}}')}},
        MERGE_PATCH,
      )
      const stored = await admin('GET', `/api/v1/namespaces/${ns}/secrets/typed`)
      return {put: seen(put), patch: seen(patch), storedType: stored.body.type}
    },
    check({put, patch, storedType}) {
      expect(put.status).to.equal(422)
      expect(put.body.message).to.equal(
        'Secret "typed" is invalid: type: Invalid value: "kubernetes.io/dockerconfigjson": field is immutable',
      )
      expect(put.body.details).to.deep.equal({
        name: 'typed',
        kind: 'Secret',
        causes: [
          {
            reason: 'FieldValueInvalid',
            message: 'Invalid value: "kubernetes.io/dockerconfigjson": field is immutable',
            field: 'type',
          },
        ],
      })
      expect(patch).to.deep.equal(put)
      expect(storedType).to.equal('Opaque')
    },
  },
]

describeReal("the fake API server honours the real kube-apiserver's contract", function () {
  this.timeout(120_000)
  let plane: ControlPlane
  let fake: FakeKubeApiServer
  let fakeNobody: FakeKubeApiServer
  let real: Side
  let fakeSide: Side

  before(async () => {
    plane = await sharedControlPlane()
    const ns = await freshNamespace(plane, 'contract')
    const kubeconfig = parseYaml(readFileSync(await plane.userKubeconfig(NOBODY), 'utf8')) as {
      users: Array<{user: Record<string, string>}>
    }
    const {'client-certificate': certFile, 'client-key': keyFile} = kubeconfig.users[0].user
    const admin = plane.admin
    real = {
      label: 'real',
      ns,
      admin: client(plane.server, admin),
      nobody: client(plane.server, {
        ca: admin.ca,
        cert: readFileSync(certFile, 'utf8'),
        key: readFileSync(keyFile, 'utf8'),
      }),
    }

    // The fake's model of the same two identities: cluster-admin (no deny rules), and a user whose
    // every request a deny rule refuses — which, as on a real cluster, still leaves what
    // system:basic-user grants every authenticated user (asking SelfSubjectAccessReviews).
    fake = await FakeKubeApiServer.start({namespaces: [ns]})
    fakeNobody = await FakeKubeApiServer.start({user: NOBODY, namespaces: [ns], deny: [{verb: '*', resource: '*'}]})
    fakeSide = {label: 'fake', ns, admin: client(fake.url), nobody: client(fakeNobody.url)}
  })
  after(async () => {
    await fake?.stop()
    await fakeNobody?.stop()
  })

  for (const contract of CASES) {
    it(contract.name, async () => {
      const [onReal, onFake] = await Promise.all([contract.run(real), contract.run(fakeSide)])
      expect(
        differences(onFake, onReal),
        `the fake answers differently from kube-apiserver ${plane.binaries.version}`,
      ).to.deep.equal([])
      expect(onFake).to.deep.equal(onReal)
      contract.check?.(onReal)
    })
  }
})

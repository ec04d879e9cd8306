import {AppsV1Api, CoreV1Api, KubeConfig} from '@kubernetes/client-node'
import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {mkdtempSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

import {FakeKubeApiServer} from './fake-kube-api.js'
import {applyJsonPatch, applyMergePatch} from './fake-kube-api/json-patch.js'
import {matchesLabels, parseLabelSelector} from './fake-kube-api/selectors.js'
import {applyStrategicMergePatch} from './fake-kube-api/strategic-merge-patch.js'
import {createTestCa} from './tls.js'

const execFileAsync = promisify(execFile)
const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl'
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')

describe('FakeKubeApiServer', function () {
  this.timeout(60_000)
  let api: FakeKubeApiServer
  let dir: string

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fake-kube-api-'))
    api = await FakeKubeApiServer.start({namespaces: ['team-a', 'team-b']})
  })
  after(async () => {
    await api?.stop()
  })

  const call = async (
    method: string,
    urlPath: string,
    body?: unknown,
    contentType = 'application/json',
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(api.url + urlPath, {
      method,
      headers: {...(body === undefined ? {} : {'Content-Type': contentType}), ...headers},
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: (await response.json()) as any,
    }
  }
  const secret = (name: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {name},
    type: 'Opaque',
    data: {k: b64('v')},
    ...extra,
  })

  describe('CRUD over plain HTTP', () => {
    it('creates, reads, replaces, lists and deletes a secret', async () => {
      const created = await call('POST', '/api/v1/namespaces/team-a/secrets', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {name: 'crud'},
        stringData: {a: 'b'},
      })
      expect(created.status).to.equal(201)
      expect(created.contentType).to.equal('application/json')
      expect(created.body.metadata).to.include({name: 'crud', namespace: 'team-a'})
      expect(created.body.metadata.uid).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      expect(created.body.metadata.creationTimestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      expect(created.body.metadata.resourceVersion).to.match(/^\d+$/)
      expect(created.body.data).to.deep.equal({a: b64('b')})
      expect(created.body).to.not.have.property('stringData')
      expect(created.body.type).to.equal('Opaque')

      const read = await call('GET', '/api/v1/namespaces/team-a/secrets/crud')
      expect(read.status).to.equal(200)
      expect(read.body).to.deep.equal(created.body)

      const replaced = await call('PUT', '/api/v1/namespaces/team-a/secrets/crud', {...read.body, data: {a: 'Yw=='}})
      expect(replaced.status).to.equal(200)
      expect(replaced.body.data).to.deep.equal({a: 'Yw=='})
      expect(replaced.body.metadata.uid).to.equal(created.body.metadata.uid)
      expect(replaced.body.metadata.creationTimestamp).to.equal(created.body.metadata.creationTimestamp)
      expect(Number(replaced.body.metadata.resourceVersion)).to.be.greaterThan(
        Number(created.body.metadata.resourceVersion),
      )

      const list = await call('GET', '/api/v1/namespaces/team-a/secrets')
      expect(list.body).to.include({kind: 'SecretList', apiVersion: 'v1'})
      expect(list.body.metadata.resourceVersion).to.match(/^\d+$/)
      expect(list.body.items.map((s: any) => s.metadata.name)).to.deep.equal(['crud'])
      // As on kube-apiserver, items of a typed list carry no apiVersion/kind of their own.
      expect(list.body.items[0]).to.not.have.any.keys('apiVersion', 'kind')

      const deleted = await call('DELETE', '/api/v1/namespaces/team-a/secrets/crud')
      expect(deleted.status).to.equal(200)
      expect(deleted.body.metadata.name).to.equal('crud')
      expect(api.getObject('secrets', 'team-a', 'crud')).to.equal(undefined)
      expect((await call('GET', '/api/v1/namespaces/team-a/secrets/crud')).status).to.equal(404)
    })

    it('a no-op replace keeps the resourceVersion', async () => {
      const created = (await call('POST', '/api/v1/namespaces/team-a/secrets', secret('noop'))).body
      const again = await call('PUT', '/api/v1/namespaces/team-a/secrets/noop', created)
      expect(again.status).to.equal(200)
      expect(again.body.metadata.resourceVersion).to.equal(created.metadata.resourceVersion)
    })

    it('generateName picks a fresh name; missing kind/apiVersion default from the URL', async () => {
      const created = await call('POST', '/api/v1/namespaces/team-a/configmaps', {
        metadata: {generateName: 'gen-'},
        data: {x: 'y'},
      })
      expect(created.status).to.equal(201)
      expect(created.body.metadata.name).to.match(/^gen-[a-z0-9]{5}$/)
      expect(created.body).to.include({apiVersion: 'v1', kind: 'ConfigMap'})
      expect(api.getObject('configmaps', 'team-a', created.body.metadata.name)!.data).to.deep.equal({x: 'y'})
    })

    it('records every request with path, query, content type and parsed body', async () => {
      const before = api.requests.length
      await call(
        'POST',
        '/api/v1/namespaces/team-a/secrets?dryRun=All&fieldManager=t',
        secret('recorded'),
        'application/json; charset=utf-8',
      )
      const [recorded] = api.requests.slice(before)
      expect(recorded).to.deep.include({
        method: 'POST',
        path: '/api/v1/namespaces/team-a/secrets',
        query: {dryRun: 'All', fieldManager: 't'},
        contentType: 'application/json',
      })
      expect(recorded.body).to.deep.equal(secret('recorded'))
      expect(recorded.headers['content-type']).to.equal('application/json; charset=utf-8')
    })

    it('serves cluster-scoped, apps, batch and admissionregistration resources on their real paths', async () => {
      api.seed({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {name: 'web', namespace: 'team-b', labels: {app: 'web'}},
        spec: {template: {spec: {containers: [{name: 'c', image: 'nginx'}]}}},
      })
      api.seed({
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: {name: 'nightly', namespace: 'team-a'},
        spec: {schedule: '0 0 * * *'},
      })
      const deployments = await call('GET', '/apis/apps/v1/deployments')
      expect(deployments.body.kind).to.equal('DeploymentList')
      expect(deployments.body.items.map((d: any) => `${d.metadata.namespace}/${d.metadata.name}`)).to.deep.equal([
        'team-b/web',
      ])
      expect(deployments.body.items[0].metadata.generation).to.equal(1)
      expect((await call('GET', '/apis/batch/v1/namespaces/team-a/cronjobs/nightly')).body.spec.schedule).to.equal(
        '0 0 * * *',
      )

      const policy = await call('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: {name: 'images', namespace: 'ignored'},
        spec: {validations: [{expression: 'true'}]},
      })
      expect(policy.status).to.equal(201)
      expect(policy.body.metadata).to.not.have.property('namespace')
      expect(api.getObject('validatingadmissionpolicies', undefined, 'images')).to.not.equal(undefined)

      const node = await call('POST', '/api/v1/nodes', {apiVersion: 'v1', kind: 'Node', metadata: {name: 'node-1'}})
      expect(node.status).to.equal(201)
      expect(api.listObjects('nodes').map((n) => n.metadata.name)).to.deep.equal(['node-1'])
    })
  })

  describe('Status errors', () => {
    it('404 NotFound names the resource', async () => {
      const response = await call('GET', '/api/v1/namespaces/team-a/secrets/ghost')
      expect(response.status).to.equal(404)
      expect(response.body).to.deep.equal({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'secrets "ghost" not found',
        reason: 'NotFound',
        details: {name: 'ghost', kind: 'secrets'},
        code: 404,
      })
      const grouped = await call('GET', '/apis/apps/v1/namespaces/team-a/deployments/ghost')
      expect(grouped.body.message).to.equal('deployments.apps "ghost" not found')
      expect(grouped.body.details).to.deep.equal({name: 'ghost', group: 'apps', kind: 'deployments'})
    })

    it('404 for an unknown path, 405 for a method the resource does not allow', async () => {
      const unknown = await call('GET', '/api/v1/namespaces/team-a/widgets')
      expect(unknown.status).to.equal(404)
      expect(unknown.body).to.include({
        kind: 'Status',
        status: 'Failure',
        reason: 'NotFound',
        message: 'the server could not find the requested resource',
        code: 404,
      })
      const method = await call('POST', '/api/v1/namespaces/team-a/secrets/x', secret('x'))
      expect(method.status).to.equal(405)
      expect(method.body).to.include({kind: 'Status', reason: 'MethodNotAllowed', code: 405})
    })

    it('409 AlreadyExists', async () => {
      expect((await call('POST', '/api/v1/namespaces/team-a/secrets', secret('dup'))).status).to.equal(201)
      const response = await call('POST', '/api/v1/namespaces/team-a/secrets', secret('dup'))
      expect(response.status).to.equal(409)
      expect(response.body).to.deep.equal({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'secrets "dup" already exists',
        reason: 'AlreadyExists',
        details: {name: 'dup', kind: 'secrets'},
        code: 409,
      })
    })

    it('403 Forbidden from deny rules, naming user, verb, resource and scope', async () => {
      const denied = await FakeKubeApiServer.start({
        deny: [
          {verb: 'create', resource: 'secrets', namespace: 'default'},
          {verb: 'list', resource: 'namespaces'},
          {verb: 'get', resource: 'secrets'},
        ],
      })
      try {
        const post = await fetch(`${denied.url}/api/v1/namespaces/default/secrets`, {
          method: 'POST',
          headers: {'Content-Type': 'application/json'},
          body: JSON.stringify(secret('x')),
        })
        expect(post.status).to.equal(403)
        expect(await post.json()).to.deep.equal({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message:
            'secrets is forbidden: User "fake-user" cannot create resource "secrets" in API group "" in the namespace "default"',
          reason: 'Forbidden',
          details: {kind: 'secrets'},
          code: 403,
        })
        const other = await fetch(`${denied.url}/api/v1/namespaces/kube-public/secrets`, {
          method: 'POST',
          headers: {'Content-Type': 'application/json'},
          body: JSON.stringify(secret('x')),
        })
        expect(other.status, 'the rule is limited to one namespace').to.equal(201)

        const get = (await (
          await fetch(`${denied.url}/api/v1/namespaces/kube-public/secrets/x`, {headers: {'Impersonate-User': 'jane'}})
        ).json()) as any
        expect(get.message).to.equal(
          'secrets "x" is forbidden: User "jane" cannot get resource "secrets" in API group "" in the namespace "kube-public"',
        )
        expect(get.details).to.deep.equal({name: 'x', kind: 'secrets'})

        const list = (await (await fetch(`${denied.url}/api/v1/namespaces`)).json()) as any
        expect(list.message).to.equal(
          'namespaces is forbidden: User "fake-user" cannot list resource "namespaces" in API group "" at the cluster scope',
        )

        denied.deny({verb: 'patch', resource: 'deployments'})
        const patch = (await (
          await fetch(`${denied.url}/apis/apps/v1/namespaces/default/deployments/web`, {
            method: 'PATCH',
            headers: {'Content-Type': 'application/merge-patch+json'},
            body: '{}',
          })
        ).json()) as any
        expect(patch.message).to.equal(
          'deployments.apps "web" is forbidden: User "fake-user" cannot patch resource "deployments" in API group "apps" in the namespace "default"',
        )
        expect(patch.details).to.deep.equal({name: 'web', group: 'apps', kind: 'deployments'})
      } finally {
        await denied.stop()
      }
    })

    it('SelfSubjectAccessReview: answers from the deny rules; a wildcard rule leaves what system:basic-user grants', async () => {
      const denied = await FakeKubeApiServer.start({user: 'nobody', deny: [{verb: '*', resource: '*'}]})
      try {
        const ask = async (server: FakeKubeApiServer, resourceAttributes: Record<string, string>) =>
          (
            await fetch(`${server.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, {
              method: 'POST',
              headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({
                apiVersion: 'authorization.k8s.io/v1',
                kind: 'SelfSubjectAccessReview',
                spec: {resourceAttributes},
              }),
            })
          ).json() as Promise<any>
        const refused = await ask(denied, {verb: 'get', resource: 'secrets', group: '', namespace: 'default'})
        expect(refused).to.deep.equal({
          kind: 'SelfSubjectAccessReview',
          apiVersion: 'authorization.k8s.io/v1',
          metadata: {},
          spec: {resourceAttributes: {verb: 'get', resource: 'secrets', namespace: 'default'}},
          status: {allowed: false},
        })
        const basic = await ask(denied, {
          verb: 'create',
          resource: 'selfsubjectaccessreviews',
          group: 'authorization.k8s.io',
        })
        expect(basic.status).to.deep.equal({
          allowed: true,
          reason:
            'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated"',
        })
        expect(
          (await ask(api, {verb: 'delete', resource: 'namespaces'})).status,
          'no deny rules: cluster-admin',
        ).to.deep.equal({allowed: true})
        denied.deny({verb: 'create', resource: 'selfsubjectaccessreviews'})
        const named = await fetch(`${denied.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, {
          method: 'POST',
          headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({spec: {resourceAttributes: {verb: 'get', resource: 'pods'}}}),
        })
        expect(named.status, 'a rule naming the resource still refuses it').to.equal(403)
      } finally {
        await denied.stop()
      }
    })

    it('the user option names the subject of a refusal', async () => {
      const denied = await FakeKubeApiServer.start({
        user: 'system:serviceaccount:ci:bot',
        deny: [{verb: 'delete', resource: '*'}],
      })
      try {
        const body = (await (await fetch(`${denied.url}/api/v1/namespaces/default`, {method: 'DELETE'})).json()) as any
        expect(body.code).to.equal(403)
        expect(body.message).to.equal(
          'namespaces "default" is forbidden: User "system:serviceaccount:ci:bot" cannot delete resource "namespaces" in API group "" at the cluster scope',
        )
      } finally {
        await denied.stop()
      }
    })

    it('422 Invalid for a bad name, with causes', async () => {
      const response = await call('POST', '/api/v1/namespaces/team-a/secrets', secret('Bad_Name'))
      expect(response.status).to.equal(422)
      expect(response.body).to.include({kind: 'Status', status: 'Failure', reason: 'Invalid', code: 422})
      expect(response.body.message).to.match(
        /^Secret "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/,
      )
      expect(response.body.details).to.deep.include({name: 'Bad_Name', kind: 'Secret'})
      expect(response.body.details.causes).to.have.length(1)
      expect(response.body.details.causes[0]).to.include({reason: 'FieldValueInvalid', field: 'metadata.name'})
      const ns = await call('POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {name: 'a.b'},
      })
      expect(ns.status, 'namespace names are labels, no dots').to.equal(422)
      expect(ns.body.message).to.equal(
        'Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": must not contain dots',
      )
      const nsBad = await call('POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {name: 'Bad_ns'},
      })
      expect(nsBad.body.message).to.contain('a lowercase RFC 1123 label must consist of')
      const long = await call('POST', '/api/v1/namespaces/team-a/secrets', secret('a'.repeat(254)))
      expect(long.body.message).to.contain('must be no more than 253 characters')
      const longAndBad = await call('POST', '/api/v1/namespaces/team-a/secrets', secret('B'.repeat(254)))
      expect(longAndBad.body.details.causes, 'length and pattern are separate causes').to.have.length(2)
      expect(longAndBad.body.details.causes[0].message).to.match(/: must be no more than 253 characters$/)
      expect(longAndBad.body.details.causes[1].message).to.contain('a lowercase RFC 1123 subdomain must consist of')
    })

    it('422 for a dockerconfigjson secret without valid JSON, contents redacted', async () => {
      const bad = await call('POST', '/api/v1/namespaces/team-a/secrets', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {name: 'reg'},
        type: 'kubernetes.io/dockerconfigjson',
        data: {'.dockerconfigjson': b64('{not json')},
      })
      expect(bad.status).to.equal(422)
      expect(bad.body.message).to.match(
        /^Secret "reg" is invalid: data\[\.dockerconfigjson\]: Invalid value: "<secret contents redacted>": /,
      )
      expect(bad.body.message).to.not.contain('not json')
      expect(bad.body.details.causes).to.deep.equal([
        {reason: 'FieldValueInvalid', message: bad.body.details.causes[0].message, field: 'data[.dockerconfigjson]'},
      ])
      const missing = await call('POST', '/api/v1/namespaces/team-a/secrets', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {name: 'reg'},
        type: 'kubernetes.io/dockerconfigjson',
        data: {other: b64('{}')},
      })
      expect(missing.status).to.equal(422)
      expect(missing.body.message).to.equal('Secret "reg" is invalid: data[.dockerconfigjson]: Required value')
      const good = await call('POST', '/api/v1/namespaces/team-a/secrets', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {name: 'reg'},
        type: 'kubernetes.io/dockerconfigjson',
        stringData: {'.dockerconfigjson': '{"auths":{}}'},
      })
      expect(good.status).to.equal(201)
      expect(api.getObject('secrets', 'team-a', 'reg')!.data).to.deep.equal({'.dockerconfigjson': b64('{"auths":{}}')})
    })

    it('a secret type cannot change on update', async () => {
      await call('POST', '/api/v1/namespaces/team-a/secrets', secret('typed'))
      const response = await call('PUT', '/api/v1/namespaces/team-a/secrets/typed', {
        ...secret('typed'),
        type: 'kubernetes.io/dockerconfigjson',
        data: {'.dockerconfigjson': b64('{}')},
      })
      expect(response.status).to.equal(422)
      expect(response.body.message).to.equal(
        'Secret "typed" is invalid: type: Invalid value: "kubernetes.io/dockerconfigjson": field is immutable',
      )
      expect(api.getObject('secrets', 'team-a', 'typed')!.type).to.equal('Opaque')
    })

    it('400 for bad JSON, bad base64, mismatched namespace or kind; 415 for other media types', async () => {
      const json = await call('POST', '/api/v1/namespaces/team-a/secrets', '{"metadata": ')
      expect(json.status).to.equal(400)
      expect(json.body).to.include({kind: 'Status', reason: 'BadRequest', code: 400})
      const base64 = await call('POST', '/api/v1/namespaces/team-a/secrets', secret('b64', {data: {k: 'not base64!'}}))
      expect(base64.status).to.equal(400)
      expect(base64.body.message).to.match(/illegal base64 data at input byte 3/)
      const ns = await call('POST', '/api/v1/namespaces/team-a/secrets', {
        ...secret('wrongns'),
        metadata: {name: 'wrongns', namespace: 'team-b'},
      })
      expect(ns.status).to.equal(400)
      expect(ns.body.message).to.equal(
        'the namespace of the provided object does not match the namespace sent on the request',
      )
      const kind = await call('POST', '/api/v1/namespaces/team-a/secrets', {...secret('k'), kind: 'ConfigMap'})
      expect(kind.status).to.equal(400)
      const text = await call('POST', '/api/v1/namespaces/team-a/secrets', JSON.stringify(secret('text')), 'text/plain')
      expect(text.status).to.equal(415)
      expect(text.body).to.include({reason: 'UnsupportedMediaType', code: 415})
      expect(api.listObjects('secrets', 'team-a').map((s) => s.metadata.name)).to.not.include.members([
        'b64',
        'wrongns',
        'k',
        'text',
      ])
    })
    it('drops unknown fields with a warning, or refuses them under fieldValidation=Strict', async () => {
      const body = {...secret('typo'), imagePullSecret: 'x', metadata: {name: 'typo', lables: {a: 'b'}}}
      const strict = await call('POST', '/api/v1/namespaces/team-a/secrets?fieldValidation=Strict', body)
      expect(strict.status).to.equal(400)
      expect(strict.body.message).to.equal(
        'strict decoding error: unknown field "imagePullSecret", unknown field "metadata.lables"',
      )
      const response = await fetch(`${api.url}/api/v1/namespaces/team-a/secrets`, {
        method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(body),
      })
      expect(response.status).to.equal(201)
      expect(response.headers.get('warning')).to.equal(
        '299 - "unknown field \\"imagePullSecret\\"", 299 - "unknown field \\"metadata.lables\\""',
      )
      const stored = api.getObject('secrets', 'team-a', 'typo')!
      expect(stored).to.not.have.property('imagePullSecret')
      expect(stored.metadata).to.not.have.property('lables')
    })
  })

  describe('resourceVersion, dryRun and namespaces', () => {
    it('PUT with a stale resourceVersion is a 409 Conflict', async () => {
      const created = (await call('POST', '/api/v1/namespaces/team-a/secrets', secret('rv'))).body
      const first = await call('PUT', '/api/v1/namespaces/team-a/secrets/rv', {...created, data: {k: b64('1')}})
      expect(first.status).to.equal(200)
      const stale = await call('PUT', '/api/v1/namespaces/team-a/secrets/rv', {...created, data: {k: b64('2')}})
      expect(stale.status).to.equal(409)
      expect(stale.body).to.deep.equal({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message:
          'Operation cannot be fulfilled on secrets "rv": the object has been modified; please apply your changes to the latest version and try again',
        reason: 'Conflict',
        details: {name: 'rv', kind: 'secrets'},
        code: 409,
      })
      expect(api.getObject('secrets', 'team-a', 'rv')!.data).to.deep.equal({k: b64('1')})
      const patch = await call(
        'PATCH',
        '/api/v1/namespaces/team-a/secrets/rv',
        {metadata: {resourceVersion: created.metadata.resourceVersion}, data: {k: b64('3')}},
        'application/merge-patch+json',
      )
      expect(patch.status).to.equal(409)
      expect((await call('PUT', '/api/v1/namespaces/team-a/secrets/absent', secret('absent'))).status).to.equal(404)
      expect(
        (await call('PATCH', '/api/v1/namespaces/team-a/secrets/absent', {}, 'application/merge-patch+json')).status,
      ).to.equal(404)
    })

    it('dryRun=All validates and answers but stores nothing and bumps no resourceVersion', async () => {
      const rv = (await call('GET', '/api/v1/namespaces/team-a/secrets')).body.metadata.resourceVersion
      const created = await call('POST', '/api/v1/namespaces/team-a/secrets?dryRun=All', secret('dry'))
      expect(created.status).to.equal(201)
      expect(created.body.metadata).to.include({name: 'dry', namespace: 'team-a'})
      expect(created.body.metadata.uid).to.be.a('string')
      expect(api.getObject('secrets', 'team-a', 'dry')).to.equal(undefined)
      expect(
        (await call('POST', '/api/v1/namespaces/team-a/secrets?dryRun=All', secret('Dry'))).status,
        'still validated',
      ).to.equal(422)

      await call('POST', '/api/v1/namespaces/team-a/secrets', secret('drytarget'))
      const before = api.getObject('secrets', 'team-a', 'drytarget')!
      const patched = await call(
        'PATCH',
        '/api/v1/namespaces/team-a/secrets/drytarget?dryRun=All',
        {data: {k: b64('new')}},
        'application/merge-patch+json',
      )
      expect(patched.body.data.k).to.equal(b64('new'))
      const replaced = await call('PUT', '/api/v1/namespaces/team-a/secrets/drytarget?dryRun=All', {
        ...before,
        data: {},
      })
      expect(replaced.status).to.equal(200)
      const deleted = await call('DELETE', '/api/v1/namespaces/team-a/secrets/drytarget?dryRun=All')
      expect(deleted.status).to.equal(200)
      expect(api.getObject('secrets', 'team-a', 'drytarget')).to.deep.equal(before)
      const nsDry = await call('POST', '/api/v1/namespaces?dryRun=All', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {name: 'dry-ns'},
      })
      expect(nsDry.status).to.equal(201)
      expect(api.getObject('namespaces', undefined, 'dry-ns')).to.equal(undefined)
      expect(api.getObject('serviceaccounts', 'dry-ns', 'default')).to.equal(undefined)
      const after = (await call('GET', '/api/v1/namespaces/team-a/secrets')).body.metadata.resourceVersion
      expect(Number(after)).to.equal(Number(rv) + 1, 'only the real create of drytarget bumped it')
      const badValue = await call('POST', '/api/v1/namespaces/team-a/secrets?dryRun=Yes', secret('dry'))
      expect(badValue.status, 'options validation: 422, not 400').to.equal(422)
      expect(badValue.body.message).to.equal(
        'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Yes"]: supported values: "All"',
      )
    })

    it('creating in a missing namespace is a 404 naming the namespace', async () => {
      const response = await call('POST', '/api/v1/namespaces/missing-ns/secrets', secret('x'))
      expect(response.status).to.equal(404)
      expect(response.body).to.deep.equal({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'namespaces "missing-ns" not found',
        reason: 'NotFound',
        details: {name: 'missing-ns', kind: 'namespaces'},
        code: 404,
      })
    })

    it('starts with the system namespaces plus the requested ones, each with a default service account', () => {
      const names = api.listObjects('namespaces').map((ns) => ns.metadata.name)
      expect(names).to.include.members(['default', 'kube-system', 'kube-public', 'kube-node-lease', 'team-a', 'team-b'])
      for (const name of names) expect(api.getObject('serviceaccounts', name, 'default'), name).to.not.equal(undefined)
      expect(api.getObject('namespaces', undefined, 'team-a')!.status).to.deep.equal({phase: 'Active'})
    })

    it('creating a namespace creates its default service account; deleting it removes its contents', async () => {
      const created = await call('POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {name: 'fresh'},
      })
      expect(created.status).to.equal(201)
      expect(created.body.status).to.deep.equal({phase: 'Active'})
      const sa = await call('GET', '/api/v1/namespaces/fresh/serviceaccounts/default')
      expect(sa.status).to.equal(200)
      expect(sa.body.metadata).to.include({name: 'default', namespace: 'fresh'})
      const deleted = await call('DELETE', '/api/v1/namespaces/fresh')
      expect(deleted.body.status.phase).to.equal('Terminating')
      expect(api.getObject('namespaces', undefined, 'fresh')).to.equal(undefined)
      expect(api.getObject('serviceaccounts', 'fresh', 'default')).to.equal(undefined)
    })
  })

  describe('lists', () => {
    before(async () => {
      for (let i = 0; i < 7; i++) {
        api.seed({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            name: `page-${i}`,
            namespace: i % 2 ? 'team-a' : 'team-b',
            labels: {tier: i < 5 ? 'web' : 'db', ...(i % 3 === 0 ? {canary: 'yes'} : {})},
          },
        })
      }
    })

    it('filters with label selectors', async () => {
      const names = async (selector: string) =>
        (await call('GET', `/api/v1/configmaps?labelSelector=${encodeURIComponent(selector)}`)).body.items.map(
          (c: any) => c.metadata.name,
        )
      expect(await names('tier=web,canary')).to.deep.equal(['page-3', 'page-0'])
      expect(await names('tier==db')).to.deep.equal(['page-5', 'page-6'])
      expect(await names('tier in (db),!canary')).to.deep.equal(['page-5'])
      expect(await names('tier notin (web),tier')).to.deep.equal(['page-5', 'page-6'])
      expect(await names('tier!=web')).to.include.members(['page-5', 'page-6'])
      const bad = await call('GET', `/api/v1/configmaps?labelSelector=${encodeURIComponent('a in b')}`)
      expect(bad.status).to.equal(400)
    })

    it('filters with field selectors', async () => {
      const byName = await call('GET', '/api/v1/configmaps?fieldSelector=metadata.name%3Dpage-2')
      expect(byName.body.items.map((c: any) => `${c.metadata.namespace}/${c.metadata.name}`)).to.deep.equal([
        'team-b/page-2',
      ])
      const notNs = await call(
        'GET',
        '/api/v1/configmaps?labelSelector=tier&fieldSelector=metadata.namespace!%3Dteam-b',
      )
      expect(notNs.body.items.map((c: any) => c.metadata.name)).to.deep.equal(['page-1', 'page-3', 'page-5'])
      expect((await call('GET', '/api/v1/configmaps?fieldSelector=spec.nope%3Dx')).status).to.equal(400)
    })

    it('pages with limit and continue in namespace/name order', async () => {
      const seen: string[] = []
      let token: string | undefined
      let pages = 0
      do {
        const response = await call(
          'GET',
          `/api/v1/configmaps?labelSelector=tier&limit=3${token ? `&continue=${encodeURIComponent(token)}` : ''}`,
        )
        expect(response.status).to.equal(200)
        expect(response.body.kind).to.equal('ConfigMapList')
        expect(response.body.items.length).to.be.at.most(3)
        seen.push(...response.body.items.map((c: any) => `${c.metadata.namespace}/${c.metadata.name}`))
        token = response.body.metadata.continue
        // kube-apiserver counts the remaining items only for lists no selector filters.
        expect(response.body.metadata).to.not.have.property('remainingItemCount')
        pages++
      } while (token)
      expect(pages).to.equal(3)
      expect(seen).to.deep.equal([
        'team-a/page-1',
        'team-a/page-3',
        'team-a/page-5',
        'team-b/page-0',
        'team-b/page-2',
        'team-b/page-4',
        'team-b/page-6',
      ])
      const unfiltered = await call('GET', '/api/v1/namespaces/team-a/configmaps?limit=1')
      expect(unfiltered.body.metadata.remainingItemCount).to.equal(api.listObjects('configmaps', 'team-a').length - 1)
      const garbage = await call('GET', '/api/v1/configmaps?continue=garbage')
      expect(garbage.status).to.equal(400)
      expect(garbage.body.message).to.equal(
        "invalid continue token: continue key is not valid: invalid character '\\u0081' looking for beginning of value",
      )
    })

    it('a continued list is the snapshot of its first page; lists follow the storage keys (namespace/name)', async () => {
      for (const ns of ['snap', 'snap-x']) {
        api.seed({apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns}})
        for (const name of ['s-1', 's-2', 's-3'])
          api.seed({
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {name, namespace: ns, labels: {snap: 'yes'}},
            data: {k: b64('v')},
          })
      }
      const first = await call('GET', '/api/v1/secrets?labelSelector=snap&limit=2')
      expect(
        first.body.items.map((s: any) => `${s.metadata.namespace}/${s.metadata.name}`),
        '"snap-x/" sorts before "snap/"',
      ).to.deep.equal(['snap-x/s-1', 'snap-x/s-2'])
      expect(JSON.parse(Buffer.from(first.body.metadata.continue, 'base64url').toString())).to.deep.equal({
        v: 'meta.k8s.io/v1',
        rv: Number(first.body.metadata.resourceVersion),
        start: 'snap-x/s-2\u0000',
      })
      await call('DELETE', '/api/v1/namespaces/snap-x/secrets/s-3')
      await call(
        'PATCH',
        '/api/v1/namespaces/snap/secrets/s-1',
        {data: {k: b64('changed')}},
        'application/merge-patch+json',
      )
      api.seed({apiVersion: 'v1', kind: 'Secret', metadata: {name: 's-0', namespace: 'snap', labels: {snap: 'yes'}}})
      const rest = await call(
        'GET',
        `/api/v1/secrets?labelSelector=snap&limit=10&continue=${encodeURIComponent(first.body.metadata.continue)}`,
      )
      expect(rest.body.metadata.resourceVersion).to.equal(first.body.metadata.resourceVersion)
      expect(
        rest.body.items.map(
          (s: any) => `${s.metadata.namespace}/${s.metadata.name}=${Buffer.from(s.data?.k ?? '', 'base64')}`,
        ),
      ).to.deep.equal(['snap-x/s-3=v', 'snap/s-1=v', 'snap/s-2=v', 'snap/s-3=v'])
      const latest = (await call('GET', '/api/v1/secrets?labelSelector=snap')).body.items.map(
        (s: any) => `${s.metadata.namespace}/${s.metadata.name}`,
      )
      expect(latest).to.deep.equal(['snap-x/s-1', 'snap-x/s-2', 'snap/s-0', 'snap/s-1', 'snap/s-2', 'snap/s-3'])
    })

    it('a continue token older than the event log is 410 Expired', async () => {
      const small = await FakeKubeApiServer.start()
      try {
        for (let i = 0; i < 3; i++) small.seed({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: `c-${i}`}})
        const first = (await (await fetch(`${small.url}/api/v1/namespaces/default/configmaps?limit=1`)).json()) as any
        for (let i = 0; i < 2100; i++)
          small.seed({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'c-2'}, data: {i: String(i)}})
        const expired = await fetch(
          `${small.url}/api/v1/namespaces/default/configmaps?limit=1&continue=${first.metadata.continue}`,
        )
        expect(expired.status).to.equal(410)
        expect(await expired.json()).to.deep.include({
          reason: 'Expired',
          message:
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        })
      } finally {
        await small.stop()
      }
    })

    it('listObjects returns deep copies sorted by namespace then name', () => {
      const all = api.listObjects('configmaps').filter((c) => c.metadata.name.startsWith('page-'))
      expect(all.map((c) => c.metadata.name)).to.deep.equal([
        'page-1',
        'page-3',
        'page-5',
        'page-0',
        'page-2',
        'page-4',
        'page-6',
      ])
      all[0].metadata.labels.tier = 'changed'
      expect(api.getObject('configmaps', 'team-a', 'page-1')!.metadata.labels.tier).to.equal('web')
    })
  })

  describe('PATCH', () => {
    const saPath = '/api/v1/namespaces/team-a/serviceaccounts/builder'
    beforeEach(() => {
      api.seed({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: {name: 'builder', namespace: 'team-a'},
        imagePullSecrets: [{name: 'one'}, {name: 'two'}],
        secrets: [{name: 'tok'}],
      })
    })

    it('strategic merge replaces ServiceAccount.imagePullSecrets whole (atomic) but merges .secrets by name, like the real server', async () => {
      const response = await call(
        'PATCH',
        saPath,
        {imagePullSecrets: [{name: 'three'}], secrets: [{name: 'tok2'}], metadata: {labels: {a: 'b'}}},
        'application/strategic-merge-patch+json',
      )
      expect(response.status).to.equal(200)
      expect(response.body.imagePullSecrets).to.deep.equal([{name: 'three'}])
      expect(response.body.secrets, 'patchMergeKey=name; new items first, as strategicpatch orders them').to.deep.equal(
        [{name: 'tok2'}, {name: 'tok'}],
      )
      const cleaned = await call(
        'PATCH',
        saPath,
        {secrets: [{name: 'tok', namespace: 'team-a', fieldPath: 'x'}]},
        'application/strategic-merge-patch+json',
      )
      expect(cleaned.body.secrets, 'the registry keeps only the name of each entry').to.deep.equal([
        {name: 'tok2'},
        {name: 'tok'},
      ])
      expect(cleaned.body.metadata.resourceVersion, 'which makes this patch a no-op').to.equal(
        response.body.metadata.resourceVersion,
      )
      expect(api.getObject('serviceaccounts', 'team-a', 'builder')!.metadata.labels).to.deep.equal({a: 'b'})
    })

    it('merge patch replaces lists whole and deletes keys set to null', async () => {
      const response = await call(
        'PATCH',
        saPath,
        {imagePullSecrets: [{name: 'three'}], secrets: null},
        'application/merge-patch+json',
      )
      expect(response.body.imagePullSecrets).to.deep.equal([{name: 'three'}])
      expect(response.body).to.not.have.property('secrets')
    })

    it('json patch appends with /-, and a failed test is a 422 that changes nothing', async () => {
      const appended = await call(
        'PATCH',
        saPath,
        [
          {op: 'test', path: '/imagePullSecrets/1/name', value: 'two'},
          {op: 'add', path: '/imagePullSecrets/-', value: {name: 'three'}},
        ],
        'application/json-patch+json',
      )
      expect(appended.status).to.equal(200)
      expect(appended.body.imagePullSecrets).to.deep.equal([{name: 'one'}, {name: 'two'}, {name: 'three'}])
      const rv = api.getObject('serviceaccounts', 'team-a', 'builder')!.metadata.resourceVersion
      const failed = await call(
        'PATCH',
        saPath,
        [
          {op: 'test', path: '/imagePullSecrets', value: []},
          {op: 'add', path: '/imagePullSecrets/-', value: {name: 'four'}},
        ],
        'application/json-patch+json',
      )
      expect(failed.status).to.equal(422)
      // kube-apiserver does not say why a JSON patch did not apply: a generic message, empty details.
      expect(failed.body).to.deep.equal({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'the server rejected our request due to an error in our request',
        reason: 'Invalid',
        details: {},
        code: 422,
      })
      const after = api.getObject('serviceaccounts', 'team-a', 'builder')!
      expect(after.imagePullSecrets).to.have.length(3)
      expect(after.metadata.resourceVersion).to.equal(rv)
      const missing = await call(
        'PATCH',
        saPath,
        [{op: 'remove', path: '/automountServiceAccountToken'}],
        'application/json-patch+json',
      )
      expect(missing.status).to.equal(422)
    })

    it('strategic merge merges PodSpec containers and imagePullSecrets by name inside a Deployment', async () => {
      api.seed({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {name: 'smp', namespace: 'team-a'},
        spec: {
          replicas: 1,
          template: {
            spec: {
              imagePullSecrets: [{name: 'old'}],
              containers: [
                {name: 'app', image: 'app:1', env: [{name: 'A', value: '1'}]},
                {name: 'sidecar', image: 'side:1'},
              ],
            },
          },
        },
      })
      const response = await call(
        'PATCH',
        '/apis/apps/v1/namespaces/team-a/deployments/smp',
        {
          spec: {
            template: {
              spec: {
                imagePullSecrets: [{name: 'new'}],
                containers: [
                  {name: 'app', image: 'app:2', env: [{name: 'B', value: '2'}]},
                  {name: 'sidecar', $patch: 'delete'},
                ],
              },
            },
          },
        },
        'application/strategic-merge-patch+json',
      )
      expect(response.status).to.equal(200)
      const spec = api.getObject('deployments', 'team-a', 'smp')!.spec
      // Items new to a merged list come first, as the real server's strategicpatch orders them.
      expect(spec.template.spec.imagePullSecrets).to.deep.equal([{name: 'new'}, {name: 'old'}])
      expect(spec.template.spec.containers).to.deep.equal([
        {
          name: 'app',
          image: 'app:2',
          env: [
            {name: 'B', value: '2'},
            {name: 'A', value: '1'},
          ],
        },
      ])
      expect(spec.replicas).to.equal(1)
      expect(response.body.metadata.generation).to.equal(2)
    })

    it('a JSON patch body that is not a list of operations is a 400, as the strict decode reports it', async () => {
      const object = await call('PATCH', saPath, {op: 'add', path: '/x', value: 1}, 'application/json-patch+json')
      expect(object.status).to.equal(400)
      expect(object.body.message).to.equal(
        'error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp',
      )
      const ignore = await call('PATCH', `${saPath}?fieldValidation=Ignore`, ['add'], 'application/json-patch+json')
      expect(ignore.body.message).to.equal('json: cannot unmarshal string into Go value of type jsonpatch.Operation')
    })

    it('refuses unsupported patch types with 415', async () => {
      const response = await call('PATCH', saPath, {}, 'application/json')
      expect(response.status).to.equal(415)
      expect(response.body.message).to.contain('application/strategic-merge-patch+json')
    })

    it('patch helpers work on plain objects', () => {
      expect(
        applyJsonPatch({a: {'b/c': 1, 'd~e': 2}}, [
          {op: 'move', from: '/a/b~1c', path: '/x'},
          {op: 'copy', from: '/a/d~0e', path: '/y'},
          {op: 'replace', path: '/a', value: []},
        ]),
      ).to.deep.equal({a: [], x: 1, y: 2})
      expect(applyMergePatch({a: {b: 1, c: 2}, l: [1]}, {a: {b: null, d: 3}, l: [2]})).to.deep.equal({
        a: {c: 2, d: 3},
        l: [2],
      })
      expect(
        applyStrategicMergePatch(
          {
            kind: 'Pod',
            spec: {
              containers: [{name: 'a', ports: [{containerPort: 80}], volumeMounts: [{mountPath: '/x', name: 'v'}]}],
              volumes: [{name: 'v'}],
              tolerations: [{key: 'a'}],
            },
          },
          {
            spec: {
              containers: [{name: 'a', ports: [{containerPort: 81}], volumeMounts: [{mountPath: '/x', name: 'w'}]}],
              volumes: [{name: 'w'}],
              tolerations: [{key: 'b'}],
            },
          },
        ),
      ).to.deep.equal({
        kind: 'Pod',
        spec: {
          containers: [
            {
              name: 'a',
              ports: [{containerPort: 81}, {containerPort: 80}],
              volumeMounts: [{mountPath: '/x', name: 'w'}],
            },
          ],
          volumes: [{name: 'w'}, {name: 'v'}],
          tolerations: [{key: 'b'}],
        },
      })
      // Live [a, b, c], patch [c', d]: the patch's items in its order, server-only items before them where the live order says so.
      expect(
        applyStrategicMergePatch(
          {kind: 'ServiceAccount', secrets: [{name: 'a'}, {name: 'b'}, {name: 'c'}]},
          {secrets: [{name: 'c', x: 1}, {name: 'd'}]},
        ),
      ).to.deep.equal({kind: 'ServiceAccount', secrets: [{name: 'a'}, {name: 'b'}, {name: 'c', x: 1}, {name: 'd'}]})
      expect(matchesLabels(parseLabelSelector('a in (x, y),b!=z'), {a: 'y'})).to.equal(true)
      expect(matchesLabels(parseLabelSelector('a in (x, y),b!=z'), {a: 'y', b: 'z'})).to.equal(false)
    })
  })

  describe('subresources, server-side apply and watch', () => {
    it('/scale reads and writes spec.replicas through an autoscaling/v1 Scale', async () => {
      api.seed({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {name: 'scaled', namespace: 'team-a'},
        spec: {replicas: 2, selector: {matchLabels: {app: 'scaled'}}},
        status: {replicas: 2},
      })
      const scale = await call('GET', '/apis/apps/v1/namespaces/team-a/deployments/scaled/scale')
      expect(scale.body).to.deep.include({
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        spec: {replicas: 2},
        status: {replicas: 2, selector: 'app=scaled'},
      })
      const patched = await call(
        'PATCH',
        '/apis/apps/v1/namespaces/team-a/deployments/scaled/scale',
        {spec: {replicas: 5}},
        'application/merge-patch+json',
      )
      expect(patched.body.spec.replicas).to.equal(5)
      expect(api.getObject('deployments', 'team-a', 'scaled')!.spec.replicas).to.equal(5)
      expect((await call('GET', '/api/v1/namespaces/team-a/secrets/x/scale')).status).to.equal(404)
    })

    it('/status changes only status, and main-resource writes cannot change status', async () => {
      api.seed({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {name: 'stat', namespace: 'team-a'},
        spec: {replicas: 1},
        status: {readyReplicas: 1},
      })
      const main = await call(
        'PATCH',
        '/apis/apps/v1/namespaces/team-a/deployments/stat',
        {spec: {replicas: 2}, status: {readyReplicas: 9}},
        'application/merge-patch+json',
      )
      expect(main.body.spec.replicas).to.equal(2)
      expect(main.body.status).to.deep.equal({readyReplicas: 1})
      const status = await call(
        'PATCH',
        '/apis/apps/v1/namespaces/team-a/deployments/stat/status',
        {spec: {replicas: 7}, status: {readyReplicas: 2}},
        'application/merge-patch+json',
      )
      expect(status.body.status).to.deep.equal({readyReplicas: 2})
      expect(status.body.spec.replicas).to.equal(2)
      const created = await call('POST', '/apis/apps/v1/namespaces/team-a/deployments', {
        metadata: {name: 'fresh-status'},
        spec: {},
        status: {readyReplicas: 3},
      })
      expect(created.body.status, 'create resets status').to.deep.equal({})
    })

    it('RBAC treats resource/subresource separately', async () => {
      const denied = await FakeKubeApiServer.start({deny: [{verb: 'patch', resource: 'deployments/scale'}]})
      try {
        denied.seed({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: {name: 'd', namespace: 'default'},
          spec: {replicas: 1},
        })
        const scale = (await (
          await fetch(`${denied.url}/apis/apps/v1/namespaces/default/deployments/d/scale`, {
            method: 'PATCH',
            headers: {'Content-Type': 'application/merge-patch+json'},
            body: '{"spec":{"replicas":2}}',
          })
        ).json()) as any
        expect(scale.message).to.equal(
          'deployments.apps "d" is forbidden: User "fake-user" cannot patch resource "deployments/scale" in API group "apps" in the namespace "default"',
        )
        const main = await fetch(`${denied.url}/apis/apps/v1/namespaces/default/deployments/d`, {
          method: 'PATCH',
          headers: {'Content-Type': 'application/merge-patch+json'},
          body: '{"spec":{"replicas":2}}',
        })
        expect(main.status).to.equal(200)
      } finally {
        await denied.stop()
      }
    })

    it('server-side apply creates a missing object, then merges; it requires a fieldManager', async () => {
      const config = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'ssa', namespace: 'team-a'}, data: {a: '1'}}
      const create = await call(
        'PATCH',
        '/api/v1/namespaces/team-a/configmaps/ssa?fieldManager=test',
        config,
        'application/apply-patch+yaml',
      )
      expect(create.status).to.equal(201)
      const update = await call(
        'PATCH',
        '/api/v1/namespaces/team-a/configmaps/ssa?fieldManager=test',
        {...config, data: {a: '2', b: '3'}},
        'application/apply-patch+yaml',
      )
      expect(update.status).to.equal(200)
      expect(api.getObject('configmaps', 'team-a', 'ssa')!.data).to.deep.equal({a: '2', b: '3'})
      expect(
        (await call('PATCH', '/api/v1/namespaces/team-a/configmaps/ssa', config, 'application/apply-patch+yaml'))
          .status,
      ).to.equal(400)
    })

    it('watch streams the current objects, then changes, filtered by selector', async () => {
      const controller = new AbortController()
      const response = await fetch(
        `${api.url}/api/v1/namespaces/team-b/secrets?watch=true&labelSelector=watched%3Dyes`,
        {signal: controller.signal},
      )
      expect(response.status).to.equal(200)
      const reader = response.body!.getReader()
      const events: Array<{type: string; object: any}> = []
      let buffered = ''
      const next = async () => {
        while (!buffered.includes('\n')) {
          const {value, done} = await reader.read()
          if (done) throw new Error('watch ended')
          buffered += Buffer.from(value).toString('utf8')
        }
        const line = buffered.slice(0, buffered.indexOf('\n'))
        buffered = buffered.slice(line.length + 1)
        events.push(JSON.parse(line))
      }
      await call('POST', '/api/v1/namespaces/team-b/secrets', secret('ignored'))
      await call('POST', '/api/v1/namespaces/team-b/secrets', {
        ...secret('watched'),
        metadata: {name: 'watched', labels: {watched: 'yes'}},
      })
      await next()
      await call(
        'PATCH',
        '/api/v1/namespaces/team-b/secrets/watched',
        {data: {k: b64('2')}},
        'application/merge-patch+json',
      )
      await next()
      await call('DELETE', '/api/v1/namespaces/team-b/secrets/watched')
      await next()
      controller.abort()
      expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).to.deep.equal([
        'ADDED watched',
        'MODIFIED watched',
        'DELETED watched',
      ])
      expect(events[1].object.data.k).to.equal(b64('2'))
      expect(events[0].object).to.include({kind: 'Secret', apiVersion: 'v1'})
      const rvs = events.map((e) => Number(e.object.metadata.resourceVersion))
      expect(rvs[0]).to.be.lessThan(rvs[1])
      expect(rvs[1]).to.be.lessThan(rvs[2])
    })

    it('watch from a resourceVersion replays only later events', async () => {
      const rv = (await call('GET', '/api/v1/namespaces/team-b/configmaps')).body.metadata.resourceVersion
      api.seed({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'after-rv', namespace: 'team-b'}})
      const response = await fetch(
        `${api.url}/api/v1/namespaces/team-b/configmaps?watch=1&resourceVersion=${rv}&timeoutSeconds=1`,
      )
      const lines = (await response.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
      expect(lines.map((e) => `${e.type} ${e.object.metadata.name}`)).to.deep.equal(['ADDED after-rv'])
    })

    it('serves health, version and OpenAPI v3 endpoints kubectl relies on', async () => {
      expect(await (await fetch(`${api.url}/readyz`)).text()).to.equal('ok')
      expect((await call('GET', '/version')).body.gitVersion).to.equal('v1.32.0')
      const root = (await call('GET', '/openapi/v3')).body
      expect(root.paths['api/v1'].serverRelativeURL).to.match(/^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]+$/)
      const core = (await call('GET', root.paths['api/v1'].serverRelativeURL)).body
      const patch = core.paths['/api/v1/namespaces/{namespace}/secrets/{name}'].patch
      expect(patch['x-kubernetes-group-version-kind']).to.deep.equal({group: '', version: 'v1', kind: 'Secret'})
      expect(patch.parameters.map((p: any) => p.name)).to.include('fieldValidation')
      const apis = (await call('GET', '/apis')).body
      expect(apis.groups.map((g: any) => g.name)).to.deep.equal([
        'apps',
        'batch',
        'authorization.k8s.io',
        'policy',
        'admissionregistration.k8s.io',
      ])
      const apps = (await call('GET', '/apis/apps/v1')).body
      expect(apps.resources.find((r: any) => r.name === 'deployments')).to.deep.include({
        kind: 'Deployment',
        namespaced: true,
        shortNames: ['deploy'],
      })
      expect(apps.resources.find((r: any) => r.name === 'deployments/scale')).to.deep.include({
        kind: 'Scale',
        group: 'autoscaling',
      })
    })
  })

  describe('kubeconfig', () => {
    it('points at the server, trusts plain http explicitly and carries the token, context and namespace', () => {
      const text = api.kubeconfig({namespace: 'team-a', contextName: 'ctx', token: 'secret-token'})
      expect(text).to.contain(`server: "${api.url}"`)
      expect(text).to.contain('insecure-skip-tls-verify: true')
      expect(text).to.contain('token: "secret-token"')
      expect(text).to.contain('current-context: "ctx"')
      expect(text).to.contain('namespace: "team-a"')
      const kc = new KubeConfig()
      kc.loadFromString(text)
      expect(kc.getCurrentCluster()).to.deep.include({server: api.url, skipTLSVerify: true})
      expect(kc.getContextObject('ctx')).to.deep.include({namespace: 'team-a'})
      expect(kc.getCurrentUser()!.token).to.equal('secret-token')
    })

    it('writeKubeconfig writes a 0600 file', async () => {
      const file = await api.writeKubeconfig(path.join(dir, 'kc'))
      expect(file).to.equal(path.join(dir, 'kc'))
      expect(statSync(file).mode & 0o777).to.equal(0o600)
    })
  })

  describe('@kubernetes/client-node', () => {
    it('round-trips a secret and surfaces 404 as an ApiException', async () => {
      const kc = new KubeConfig()
      kc.loadFromString(api.kubeconfig())
      const core = kc.makeApiClient(CoreV1Api)
      const created = await core.createNamespacedSecret({
        namespace: 'team-b',
        body: {metadata: {name: 'via-client'}, type: 'Opaque', stringData: {user: 'me'}},
      })
      expect(created.metadata?.uid).to.be.a('string')
      const read = await core.readNamespacedSecret({name: 'via-client', namespace: 'team-b'})
      expect(read.data).to.deep.equal({user: b64('me')})
      expect(api.getObject('secrets', 'team-b', 'via-client')!.metadata.uid).to.equal(created.metadata!.uid)
      const error = await core.readNamespacedSecret({name: 'nope', namespace: 'team-b'}).then(
        () => undefined,
        (e: unknown) => e as {code: number; body: unknown},
      )
      expect(error).to.not.equal(undefined)
      expect(error!.code).to.equal(404)
      const status = typeof error!.body === 'string' ? JSON.parse(error!.body) : error!.body
      expect(status).to.include({kind: 'Status', reason: 'NotFound', message: 'secrets "nope" not found'})
    })

    it('lists across namespaces and patches through typed clients', async () => {
      const kc = new KubeConfig()
      kc.loadFromString(api.kubeconfig())
      const core = kc.makeApiClient(CoreV1Api)
      const sas = await core.listServiceAccountForAllNamespaces()
      expect(sas.items.map((sa) => sa.metadata?.namespace)).to.include.members(['team-a', 'team-b', 'default'])
      const apps = kc.makeApiClient(AppsV1Api)
      const list = await apps.listNamespacedDeployment({namespace: 'team-b'})
      expect(list.items.map((d) => d.metadata?.name)).to.deep.equal(['web'])
    })

    it('over https: fails TLS without the CA, works with caData', async () => {
      const ca = await createTestCa()
      const cert = await ca.issue({cn: 'kube-apiserver', ipAddresses: ['127.0.0.1']})
      const tls = await FakeKubeApiServer.start({tls: {key: cert.keyPem, cert: cert.certPem}})
      try {
        expect(tls.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/)
        const untrusted = tls.kubeconfig()
        expect(untrusted).to.not.contain('insecure-skip-tls-verify')
        expect(untrusted).to.not.contain('certificate-authority')
        const bare = new KubeConfig()
        bare.loadFromString(untrusted)
        const failure = await bare
          .makeApiClient(CoreV1Api)
          .listNamespace()
          .then(
            () => undefined,
            (e: Error) => e,
          )
        expect(String(failure?.message ?? failure)).to.match(/certificate|self.signed|issuer/i)

        for (const caData of [ca.caCertPem, Buffer.from(ca.caCertPem).toString('base64')]) {
          const trusted = new KubeConfig()
          trusted.loadFromString(tls.kubeconfig({caData}))
          expect(trusted.getCurrentCluster()!.caData).to.equal(Buffer.from(ca.caCertPem).toString('base64'))
          const namespaces = await trusted.makeApiClient(CoreV1Api).listNamespace()
          expect(namespaces.items.map((n) => n.metadata?.name)).to.include('default')
        }
      } finally {
        await tls.stop()
      }
    })
  })

  describe('the real kubectl', () => {
    let kubeconfig: string
    const kubectl = async (...args: string[]) => {
      try {
        const {stdout, stderr} = await execFileAsync(KUBECTL, ['--kubeconfig', kubeconfig, ...args], {timeout: 30_000})
        return {code: 0, stdout, stderr}
      } catch (error) {
        const e = error as {code?: number; stdout?: string; stderr?: string}
        return {code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? ''}
      }
    }

    before(async () => {
      kubeconfig = await api.writeKubeconfig(path.join(dir, 'kubectl-kubeconfig'), {namespace: 'team-a'})
      api.seed(secret('for-kubectl', {metadata: {name: 'for-kubectl', namespace: 'team-a'}}))
      api.seed({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {name: 'p1', namespace: 'team-b'},
        spec: {containers: [{name: 'c', image: 'busybox'}]},
      })
    })

    it('get secret -o json returns the stored secret', async () => {
      const result = await kubectl('get', 'secret', 'for-kubectl', '-n', 'team-a', '-o', 'json')
      expect(result.code, result.stderr).to.equal(0)
      expect(JSON.parse(result.stdout)).to.deep.equal(api.getObject('secrets', 'team-a', 'for-kubectl'))
    })

    it('get secrets prints a table that lists it', async () => {
      const result = await kubectl('get', 'secrets', '-n', 'team-a')
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.match(/^NAME\s/)
      expect(result.stdout).to.match(/^for-kubectl\s/m)
    })

    it('create secret generic (a protobuf request) lands in the store', async () => {
      const result = await kubectl('create', 'secret', 'generic', 'from-kubectl', '--from-literal=a=b', '-n', 'team-b')
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal('secret/from-kubectl created\n')
      const stored = api.getObject('secrets', 'team-b', 'from-kubectl')!
      expect(stored).to.deep.include({type: 'Opaque', data: {a: b64('b')}})
      const post = api.requests
        .filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces/team-b/secrets')
        .at(-1)!
      expect(post.contentType).to.equal('application/vnd.kubernetes.protobuf')
      expect(post.body).to.deep.include({apiVersion: 'v1', kind: 'Secret', data: {a: b64('b')}})
    })

    it('create secret docker-registry, deployment and namespace through the typed generators', async () => {
      expect(
        (
          await kubectl(
            'create',
            'secret',
            'docker-registry',
            'regcred',
            '--docker-username=u',
            '--docker-password=p',
            '-n',
            'team-b',
          )
        ).code,
      ).to.equal(0)
      const reg = api.getObject('secrets', 'team-b', 'regcred')!
      expect(reg.type).to.equal('kubernetes.io/dockerconfigjson')
      expect(JSON.parse(Buffer.from(reg.data['.dockerconfigjson'], 'base64').toString())).to.have.nested.property(
        'auths',
      )
      const deploy = await kubectl('create', 'deployment', 'kd', '--image=nginx:1.27', '--replicas=2', '-n', 'team-b')
      expect(deploy.code, deploy.stderr).to.equal(0)
      expect(api.getObject('deployments', 'team-b', 'kd')!.spec).to.deep.include({
        replicas: 2,
        selector: {matchLabels: {app: 'kd'}},
      })
      expect(api.getObject('deployments', 'team-b', 'kd')!.spec.template.spec.containers).to.deep.equal([
        {name: 'nginx', image: 'nginx:1.27', resources: {}},
      ])
      expect((await kubectl('create', 'namespace', 'from-kubectl')).code).to.equal(0)
      expect(api.getObject('serviceaccounts', 'from-kubectl', 'default')).to.not.equal(undefined)
    })

    it('the other typed generators (configmap, serviceaccount, job, cronjob, service) decode too', async () => {
      const run = async (...args: string[]) => {
        const result = await kubectl('-n', 'team-b', ...args)
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(0)
      }
      await run('create', 'configmap', 'gen-cm', '--from-literal=k=v')
      await run('create', 'serviceaccount', 'gen-sa')
      await run('create', 'job', 'gen-job', '--image=busybox:1.36', '--', 'echo', 'hi')
      await run('create', 'cronjob', 'gen-cj', '--image=busybox:1.36', '--schedule=*/5 * * * *')
      await run('create', 'service', 'clusterip', 'gen-svc', '--tcp=80:8080')
      expect(api.getObject('configmaps', 'team-b', 'gen-cm')!.data).to.deep.equal({k: 'v'})
      expect(api.getObject('serviceaccounts', 'team-b', 'gen-sa')!.metadata.uid).to.be.a('string')
      expect(api.getObject('jobs', 'team-b', 'gen-job')!.spec.template.spec.containers[0]).to.deep.include({
        name: 'gen-job',
        image: 'busybox:1.36',
        command: ['echo', 'hi'],
      })
      const cronJob = api.getObject('cronjobs', 'team-b', 'gen-cj')!
      expect(cronJob.spec.schedule).to.equal('*/5 * * * *')
      expect(cronJob.spec.jobTemplate.spec.template.spec.containers[0].image).to.equal('busybox:1.36')
      expect(api.getObject('services', 'team-b', 'gen-svc')!.spec.ports).to.deep.equal([
        {name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080},
      ])
    })

    it('get pods -A -o json lists across namespaces', async () => {
      const result = await kubectl('get', 'pods', '-A', '-o', 'json')
      expect(result.code, result.stderr).to.equal(0)
      const list = JSON.parse(result.stdout)
      expect(list.items.map((p: any) => `${p.metadata.namespace}/${p.metadata.name}`)).to.deep.equal(['team-b/p1'])
    })

    it('apply (client- and server-side), scale and get -w work', async () => {
      const file = path.join(dir, 'applied.json')
      const write = (data: Record<string, string>) =>
        writeFileSync(
          file,
          JSON.stringify({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'applied', namespace: 'team-a'}, data}),
        )
      write({a: '1'})
      const first = await kubectl('apply', '-f', file)
      expect(first.code, first.stderr).to.equal(0)
      expect(first.stdout).to.equal('configmap/applied created\n')
      write({a: '2'})
      const second = await kubectl('apply', '-f', file)
      expect(second.stdout).to.equal('configmap/applied configured\n')
      expect(api.getObject('configmaps', 'team-a', 'applied')!.data).to.deep.equal({a: '2'})
      write({a: '3'})
      const ssa = await kubectl('apply', '--server-side', '-f', file)
      expect(ssa.code, ssa.stderr).to.equal(0)
      expect(api.getObject('configmaps', 'team-a', 'applied')!.data).to.deep.equal({a: '3'})

      api.seed({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {name: 'to-scale', namespace: 'team-a'},
        spec: {replicas: 1, selector: {matchLabels: {app: 'x'}}},
      })
      const scaled = await kubectl('scale', 'deployment', 'to-scale', '-n', 'team-a', '--replicas=4')
      expect(scaled.code, scaled.stderr).to.equal(0)
      expect(api.getObject('deployments', 'team-a', 'to-scale')!.spec.replicas).to.equal(4)

      const child = execFile(KUBECTL, [
        '--kubeconfig',
        kubeconfig,
        'get',
        'configmaps',
        '-n',
        'team-a',
        '-w',
        '-o',
        'name',
      ])
      let output = ''
      child.stdout!.on('data', (chunk) => (output += chunk))
      const waitFor = async (text: string) => {
        for (let i = 0; i < 100 && !output.includes(text); i++) await new Promise((r) => setTimeout(r, 100))
      }
      await waitFor('configmap/applied')
      api.seed({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'seen-by-watch', namespace: 'team-a'}})
      await waitFor('configmap/seen-by-watch')
      child.kill()
      expect(output).to.contain('configmap/seen-by-watch')
    })

    it('patch, label, delete and error messages behave as against a real cluster', async () => {
      const patch = await kubectl(
        'patch',
        'serviceaccount',
        'default',
        '-n',
        'team-b',
        '--type=json',
        '-p',
        '[{"op":"add","path":"/imagePullSecrets","value":[{"name":"regcred"}]}]',
      )
      expect(patch.code, patch.stderr).to.equal(0)
      expect(api.getObject('serviceaccounts', 'team-b', 'default')!.imagePullSecrets).to.deep.equal([{name: 'regcred'}])
      expect((await kubectl('label', 'secret', 'regcred', '-n', 'team-b', 'team=b')).code).to.equal(0)
      expect(api.getObject('secrets', 'team-b', 'regcred')!.metadata.labels).to.deep.equal({team: 'b'})
      const selected = await kubectl('get', 'secrets', '-A', '-l', 'team=b', '-o', 'name')
      expect(selected.stdout).to.equal('secret/regcred\n')
      expect((await kubectl('delete', 'secret', 'regcred', '-n', 'team-b')).code).to.equal(0)
      expect(api.getObject('secrets', 'team-b', 'regcred')).to.equal(undefined)
      const missing = await kubectl('get', 'secret', 'regcred', '-n', 'team-b')
      expect(missing.code).to.equal(1)
      expect(missing.stderr).to.equal('Error from server (NotFound): secrets "regcred" not found\n')
      const exists = await kubectl('create', 'secret', 'generic', 'from-kubectl', '--from-literal=a=b', '-n', 'team-b')
      expect(exists.stderr).to.equal('error: failed to create secret secrets "from-kubectl" already exists\n')
    })
  })
})

import {expect} from 'chai'

import {describeApiError, listAllPages} from '../../../src/lib/cluster/kube-client.js'
import {describeNetworkError} from '../../../src/lib/network-errors.js'

const SERVER = 'https://10.0.0.1:6443'
const apiError = (code: number, status: object) =>
  Object.assign(new Error(`HTTP-Code: ${code}`), {code, body: JSON.stringify(status)})

describe('kube-client errors', () => {
  const call = {verb: 'create', resource: 'secrets', namespace: 'prod', name: 'regcred'} as const
  const cases: Array<[string, unknown, string]> = [
    [
      '401',
      apiError(401, {kind: 'Status', message: 'Unauthorized', reason: 'Unauthorized', code: 401}),
      'unauthorized: the API server https://10.0.0.1:6443 rejected the credentials of context "ctx" (create secrets "regcred" in namespace "prod"); log in again or fix the kubeconfig user',
    ],
    [
      '403',
      apiError(403, {
        kind: 'Status',
        message:
          'secrets is forbidden: User "jane" cannot create resource "secrets" in API group "" in the namespace "prod"',
        reason: 'Forbidden',
        code: 403,
      }),
      'forbidden: RBAC does not allow you to create secrets "regcred" in namespace "prod": secrets is forbidden: User "jane" cannot create resource "secrets" in API group "" in the namespace "prod"',
    ],
    [
      '404 of the namespace',
      apiError(404, {
        kind: 'Status',
        message: 'namespaces "prod" not found',
        reason: 'NotFound',
        details: {name: 'prod', kind: 'namespaces'},
        code: 404,
      }),
      'namespace "prod" not found; create it first (kubectl create namespace prod)',
    ],
    [
      '404 of the object',
      apiError(404, {
        kind: 'Status',
        message: 'secrets "regcred" not found',
        reason: 'NotFound',
        details: {name: 'regcred', kind: 'secrets'},
        code: 404,
      }),
      'secrets "regcred" in namespace "prod" not found',
    ],
    [
      '409 AlreadyExists',
      apiError(409, {kind: 'Status', message: 'secrets "regcred" already exists', reason: 'AlreadyExists', code: 409}),
      'secrets "regcred" in namespace "prod" already exists',
    ],
    [
      '409 Conflict',
      apiError(409, {kind: 'Status', message: 'the object has been modified', reason: 'Conflict', code: 409}),
      'conflict: secrets "regcred" in namespace "prod" was changed by someone else while we updated it; run the command again',
    ],
    [
      '422',
      apiError(422, {
        kind: 'Status',
        message: 'Secret "regcred" is invalid: data[.dockerconfigjson]: Invalid value: "<secret contents redacted>"',
        reason: 'Invalid',
        code: 422,
      }),
      'the API server rejected secrets "regcred" in namespace "prod" as invalid: Secret "regcred" is invalid: data[.dockerconfigjson]: Invalid value: "<secret contents redacted>"',
    ],
    [
      'connection refused',
      Object.assign(new Error('request failed'), {code: 'ECONNREFUSED'}),
      'cannot connect to the Kubernetes API server at https://10.0.0.1:6443: connection refused (context "ctx")',
    ],
    [
      'TLS',
      Object.assign(new Error('request failed'), {cause: {code: 'SELF_SIGNED_CERT_IN_CHAIN'}}),
      'TLS verification of the Kubernetes API server at https://10.0.0.1:6443 failed (SELF_SIGNED_CERT_IN_CHAIN) (context "ctx")',
    ],
  ]
  for (const [title, error, expected] of cases) {
    it(title, () => expect(describeApiError(error, call, SERVER, 'ctx').message).to.equal(expected))
  }

  it('describes unknown network codes without losing them', () => {
    expect(describeNetworkError(Object.assign(new Error('x'), {code: 'EWEIRD'}), 'https://h', 'the registry')).to.equal(
      'request to the registry at https://h failed (EWEIRD)',
    )
    expect(describeNetworkError(new Error('no code'), 'https://h', 'x')).to.equal(undefined)
  })

  it('listAllPages follows continue tokens with the page size', async () => {
    const seen: Array<{limit: number; _continue?: string}> = []
    const pages: Record<string, {items: number[]; metadata?: {_continue?: string}}> = {
      start: {items: [1, 2], metadata: {_continue: 't1'}},
      t1: {items: [3, 4], metadata: {_continue: 't2'}},
      t2: {items: [5], metadata: {_continue: ''}},
    }
    const items = await listAllPages(async (page) => {
      seen.push(page)
      return pages[page._continue ?? 'start']
    }, 2)
    expect(items).to.deep.equal([1, 2, 3, 4, 5])
    expect(seen).to.deep.equal([
      {limit: 2, _continue: undefined},
      {limit: 2, _continue: 't1'},
      {limit: 2, _continue: 't2'},
    ])
  })
})

describe('--request-timeout (kube-client)', () => {
  it("takes kubectl's forms: a duration, plain seconds, 0 for none; 30 s when not given", async () => {
    const {DEFAULT_REQUEST_TIMEOUT_MS, parseRequestTimeout} = await import('../../../src/lib/cluster/kube-client.js')
    expect(parseRequestTimeout(undefined)).to.equal(DEFAULT_REQUEST_TIMEOUT_MS).and.to.equal(30_000)
    expect(parseRequestTimeout('1m30s')).to.equal(90_000)
    expect(parseRequestTimeout('5')).to.equal(5000)
    expect(parseRequestTimeout('0')).to.equal(0)
    expect(() => parseRequestTimeout('soon')).to.throw('--request-timeout "soon" is not a duration')
  })

  it('a timed-out request is described with the server, the call and the flag', () => {
    const error = Object.assign(new Error('The operation was aborted.'), {name: 'AbortError', type: 'aborted'})
    const described = describeApiError(
      error,
      {verb: 'list', resource: 'pods', namespace: 'kube-system'},
      'https://10.0.0.1:6443',
      'admin',
      5000,
    )
    expect(described.message).to.equal(
      'the Kubernetes API server https://10.0.0.1:6443 did not answer within 5s (list pods in namespace "kube-system"); check that the kubeconfig\'s server address is right and reachable, or raise --request-timeout',
    )
  })
})

describe('Kubernetes versions (kube-client)', () => {
  it('parses gitVersion and tags, distribution suffixes included', async () => {
    const {parseKubeVersion} = await import('../../../src/lib/cluster/version.js')
    expect(parseKubeVersion('v1.27.3')).to.deep.equal({major: 1, minor: 27, patch: 3})
    expect(parseKubeVersion('v1.29.4-eks-036c24b')).to.deep.equal({major: 1, minor: 29, patch: 4})
    expect(parseKubeVersion('1.30')).to.deep.equal({major: 1, minor: 30, patch: 0})
    expect(parseKubeVersion('latest')).to.equal(undefined)
  })

  it('compares by major, minor, patch', async () => {
    const {versionBefore} = await import('../../../src/lib/cluster/version.js')
    expect(versionBefore({major: 1, minor: 27, patch: 2}, 1, 27, 3)).to.equal(true)
    expect(versionBefore({major: 1, minor: 27, patch: 3}, 1, 27, 3)).to.equal(false)
    expect(versionBefore({major: 1, minor: 9, patch: 9}, 1, 27)).to.equal(true)
    expect(versionBefore({major: 2, minor: 0, patch: 0}, 1, 30)).to.equal(false)
  })
})

import {expect} from 'chai'

import {formatObjects, objectName} from '../../src/cli/output.js'

describe('output', () => {
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {name: 'regcred', namespace: 'a'},
    type: 'x',
    data: {k: 'dg=='},
  }
  const deployment = {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'web'}}

  it('-o name uses kind.group/name as kubectl does', () => {
    expect(objectName(secret)).to.equal('secret/regcred')
    expect(objectName(deployment)).to.equal('deployment.apps/web')
    expect(formatObjects([secret, deployment], 'name')).to.equal('secret/regcred\ndeployment.apps/web\n')
  })

  it('-o json: one object as is (4-space indent), several as a v1 List', () => {
    expect(formatObjects([secret], 'json')).to.equal(JSON.stringify(secret, null, 4) + '\n')
    expect(JSON.parse(formatObjects([secret, deployment], 'json'))).to.deep.equal({
      apiVersion: 'v1',
      items: [secret, deployment],
      kind: 'List',
      metadata: {resourceVersion: ''},
    })
  })

  it('-o yaml: sorted keys, unindented sequences; several objects as one v1 List, as kubectl prints them', () => {
    const yaml = formatObjects(
      [
        {
          kind: 'ServiceAccount',
          apiVersion: 'v1',
          metadata: {name: 'sa'},
          imagePullSecrets: [{name: 'b'}, {name: 'a'}],
        },
        secret,
      ],
      'yaml',
    )
    expect(yaml).to.equal(
      [
        'apiVersion: v1',
        'items:',
        '- apiVersion: v1',
        '  imagePullSecrets:',
        '  - name: b',
        '  - name: a',
        '  kind: ServiceAccount',
        '  metadata:',
        '    name: sa',
        '- apiVersion: v1',
        '  data:',
        '    k: dg==',
        '  kind: Secret',
        '  metadata:',
        '    name: regcred',
        '    namespace: a',
        '  type: x',
        'kind: List',
        'metadata:',
        '  resourceVersion: ""',
        '',
      ].join('\n'),
    )
  })

  it('timestamps as Kubernetes serialises them (RFC 3339 seconds, quoted in YAML as go-yaml does), no managedFields, YAML 1.1 words quoted', () => {
    const object = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {name: 'c', creationTimestamp: new Date('2026-11-29T20:37:08.000Z'), managedFields: [{manager: 'x'}]},
      data: {a: 'yes', b: 'on'},
    }
    expect(formatObjects([object], 'yaml')).to.equal(
      [
        'apiVersion: v1',
        'data:',
        '  a: "yes"',
        '  b: "on"',
        'kind: ConfigMap',
        'metadata:',
        '  creationTimestamp: "2026-11-29T20:37:08Z"',
        '  name: c',
        '',
      ].join('\n'),
    )
    expect(JSON.parse(formatObjects([object], 'json')).metadata).to.deep.equal({
      name: 'c',
      creationTimestamp: '2026-11-29T20:37:08Z',
    })
  })
})

import {expect} from 'chai'

import {platformsOfNodes} from '../../../src/lib/cluster/node-platforms.js'

describe('platformsOfNodes', () => {
  it('distinct os/arch from the kubelet labels, else status.nodeInfo, sorted; nodes without either are left out', () => {
    expect(
      platformsOfNodes([
        {metadata: {labels: {'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64'}}},
        {metadata: {labels: {'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64'}}},
        {metadata: {labels: {'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64'}}},
        {status: {nodeInfo: {operatingSystem: 'windows', architecture: 'amd64'}}},
        {metadata: {labels: {}}},
      ]),
    ).to.deep.equal([
      {os: 'linux', architecture: 'amd64'},
      {os: 'linux', architecture: 'arm64'},
      {os: 'windows', architecture: 'amd64'},
    ])
  })
})

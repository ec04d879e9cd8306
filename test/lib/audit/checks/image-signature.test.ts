import {expect} from 'chai'

import {imageSignatureInvalid, imageSignatureMissing} from '../../../../src/lib/audit/checks/image-signature.js'
import type {ContainerInstance} from '../../../../src/lib/audit/checks/index.js'
import type {Workload} from '../../../../src/lib/audit/workloads.js'
import type {SignatureVerdict} from '../../../../src/lib/signature/verify.js'

const DIGEST = `sha256:${'d'.repeat(64)}`
const workload = (name: string) =>
  ({kind: 'Deployment', namespace: 'shop', name, podSpec: {containers: []}}) as unknown as Workload

describe('image-signature-missing / image-signature-invalid (cross-workload, from --verify-signatures)', () => {
  const web = workload('web')
  const api = workload('api')
  // Three replicas of web run the same image; api runs another one; a container without image.
  const instances: ContainerInstance[] = [
    {workload: web, container: 'main', image: 'r.example.com/team/web:1', runningDigest: DIGEST},
    {workload: web, container: 'main', image: 'r.example.com/team/web:1', runningDigest: DIGEST},
    {workload: web, container: 'main', image: 'r.example.com/team/web:1', runningDigest: DIGEST},
    {workload: api, container: 'main', image: `r.example.com/team/api@${DIGEST}`},
    {workload: api, container: 'side', image: ''},
  ]
  const verdicts = new Map<string, SignatureVerdict>([
    [`r.example.com/team/web@${DIGEST}`, {image: `r.example.com/team/web@${DIGEST}`, status: 'missing', reasons: []}],
    [
      `r.example.com/team/api@${DIGEST}`,
      {
        image: `r.example.com/team/api@${DIGEST}`,
        status: 'invalid',
        reasons: [
          'signature sha256:abc is not by a trusted key (tried k.pub)',
          'bundle sha256:def holds no DSSE envelope',
        ],
      },
    ],
  ])

  it('without --verify-signatures (no verdicts) they find nothing', () => {
    expect(imageSignatureMissing.run(instances, {})).to.deep.equal([])
    expect(imageSignatureInvalid.run(instances, {})).to.deep.equal([])
  })

  it('one finding per workload container and image, by the digest the pod runs', () => {
    const missing = imageSignatureMissing.run(instances, {signatures: verdicts})
    expect(missing.map(({instance, result}) => [instance.workload.name, instance.container, result])).to.deep.equal([
      ['web', 'main', `r.example.com/team/web@${DIGEST} has no signature (requireSignature)`],
    ])
    const invalid = imageSignatureInvalid.run(instances, {signatures: verdicts})
    expect(invalid.map(({instance, result}) => [instance.workload.name, result])).to.deep.equal([
      [
        'api',
        `r.example.com/team/api@${DIGEST}: signature sha256:abc is not by a trusted key (tried k.pub); bundle sha256:def holds no DSSE envelope`,
      ],
    ])
  })

  it('a verified image has no finding', () => {
    const verified = new Map([
      [`r.example.com/team/web@${DIGEST}`, {image: 'x', status: 'verified' as const, key: 'k.pub', reasons: []}],
    ])
    expect(imageSignatureMissing.run(instances, {signatures: verified})).to.deep.equal([])
    expect(imageSignatureInvalid.run(instances, {signatures: verified})).to.deep.equal([])
  })
})

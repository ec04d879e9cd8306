import {expect} from 'chai'

import {matchArchiveImages} from '../../../src/lib/audit/audit-archive.js'
import type {ImageFacts} from '../../../src/lib/image/image-facts.js'

const D = `sha256:${'a'.repeat(64)}`
const facts = (image: string, digest: string, platform?: string): ImageFacts => ({
  image,
  digest,
  ...(platform ? {platform} : {}),
  user: '',
  compressedSize: 1,
  layers: 1,
  shells: [],
  packageManagers: [],
  networkTools: [],
  setuidFiles: [],
  secrets: [],
  unreadLayers: [],
})

describe('matchArchiveImages (-f with --image-archive)', () => {
  const archived = {
    images: [
      facts('nginx:1.25', 'sha256:1'),
      facts('app', D, 'linux/amd64'),
      facts('app', 'sha256:2', 'linux/arm64'),
      facts('unused:1', 'sha256:3'),
    ],
    archiveOf: new Map([
      ['nginx:1.25', 'nginx.tar'],
      ['app', 'app.tar'],
      ['unused:1', 'nginx.tar'],
    ]),
  }
  it('matches normalised tags (no tag is latest) and digests; renames the facts to the image as written', () => {
    const match = matchArchiveImages(
      ['docker.io/library/nginx:1.25', 'app:latest', `other@${D}`, 'quay.io/x:1', 'Not A Reference', 'nginx:1.26'],
      archived,
    )
    expect([...match.facts.keys()]).to.deep.equal(['docker.io/library/nginx:1.25', 'app:latest', `other@${D}`])
    expect(match.facts.get('app:latest')!.map((f) => [f.image, f.platform])).to.deep.equal([
      ['app:latest', 'linux/amd64'],
      ['app:latest', 'linux/arm64'],
    ])
    expect(match.facts.get(`other@${D}`)!.map((f) => f.digest)).to.deep.equal([D])
    expect(Object.fromEntries(match.archiveOf)).to.deep.equal({
      'docker.io/library/nginx:1.25': 'nginx.tar',
      'app:latest': 'app.tar',
      [`other@${D}`]: 'app.tar',
    })
    // An invalid reference is image-reference-invalid's, not "not inspected".
    expect(match.unmatched).to.deep.equal(['quay.io/x:1', 'nginx:1.26'])
    expect(match.unused).to.deep.equal(['unused:1'])
  })
})

import {expect} from 'chai'

import {
  effectiveTag,
  familiarImageName,
  ImageReferenceError,
  normalizeImageReference,
  parseImageReference,
} from '../../../src/lib/image/image-reference.js'

const D = '10d1f5b669fd8d5cd8b7c8e2b7d4b9b21c4d8e7f0a1b2c3d4e5f60718293a4b5'
const D2 = 'a'.repeat(64)

// [input, registry, repository, tag (as written), digest, normalized]
const VALID: Array<[string, string, string, string | undefined, string | undefined, string]> = [
  // The seeds' images.
  ['nginx', 'docker.io', 'library/nginx', undefined, undefined, 'docker.io/library/nginx:latest'],
  ['httpd', 'docker.io', 'library/httpd', undefined, undefined, 'docker.io/library/httpd:latest'],
  ['nginx:1.18.0', 'docker.io', 'library/nginx', '1.18.0', undefined, 'docker.io/library/nginx:1.18.0'],
  [
    'myprivateregistry.com:5000/nginx:alpine',
    'myprivateregistry.com:5000',
    'nginx',
    'alpine',
    undefined,
    'myprivateregistry.com:5000/nginx:alpine',
  ],
  [`nginx@sha256:${D}`, 'docker.io', 'library/nginx', undefined, `sha256:${D}`, `docker.io/library/nginx@sha256:${D}`],
  [
    'kainlite/kube-image-bouncer:latest',
    'docker.io',
    'kainlite/kube-image-bouncer',
    'latest',
    undefined,
    'docker.io/kainlite/kube-image-bouncer:latest',
  ],
  [
    'registry.k8s.io/kube-apiserver:v1.32.0',
    'registry.k8s.io',
    'kube-apiserver',
    'v1.32.0',
    undefined,
    'registry.k8s.io/kube-apiserver:v1.32.0',
  ],
  [
    'gcr.io/distroless/static-debian10',
    'gcr.io',
    'distroless/static-debian10',
    undefined,
    undefined,
    'gcr.io/distroless/static-debian10:latest',
  ],
  // Docker Hub forms.
  ['library/nginx', 'docker.io', 'library/nginx', undefined, undefined, 'docker.io/library/nginx:latest'],
  ['docker.io/nginx', 'docker.io', 'library/nginx', undefined, undefined, 'docker.io/library/nginx:latest'],
  ['docker.io/library/nginx:1.25', 'docker.io', 'library/nginx', '1.25', undefined, 'docker.io/library/nginx:1.25'],
  ['index.docker.io/nginx', 'docker.io', 'library/nginx', undefined, undefined, 'docker.io/library/nginx:latest'],
  ['index.docker.io/library/nginx:1', 'docker.io', 'library/nginx', '1', undefined, 'docker.io/library/nginx:1'],
  [
    'registry-1.docker.io/library/nginx',
    'registry-1.docker.io',
    'library/nginx',
    undefined,
    undefined,
    'registry-1.docker.io/library/nginx:latest',
  ],
  ['bitnami/redis:7.2', 'docker.io', 'bitnami/redis', '7.2', undefined, 'docker.io/bitnami/redis:7.2'],
  ['myorg/team/app:1', 'docker.io', 'myorg/team/app', '1', undefined, 'docker.io/myorg/team/app:1'],
  // Registry detection: '.', ':', localhost, uppercase.
  ['localhost/app', 'localhost', 'app', undefined, undefined, 'localhost/app:latest'],
  ['localhost:5000/app:dev', 'localhost:5000', 'app', 'dev', undefined, 'localhost:5000/app:dev'],
  ['myhost:5000/app', 'myhost:5000', 'app', undefined, undefined, 'myhost:5000/app:latest'],
  ['Registry/app', 'Registry', 'app', undefined, undefined, 'Registry/app:latest'],
  ['myhost/app', 'docker.io', 'myhost/app', undefined, undefined, 'docker.io/myhost/app:latest'],
  ['127.0.0.1:5000/app:1', '127.0.0.1:5000', 'app', '1', undefined, '127.0.0.1:5000/app:1'],
  ['[::1]:5000/app:1', '[::1]:5000', 'app', '1', undefined, '[::1]:5000/app:1'],
  ['[2001:db8::1]/app', '[2001:db8::1]', 'app', undefined, undefined, '[2001:db8::1]/app:latest'],
  [
    'quay.io/prometheus/node-exporter:v1.8.0',
    'quay.io',
    'prometheus/node-exporter',
    'v1.8.0',
    undefined,
    'quay.io/prometheus/node-exporter:v1.8.0',
  ],
  [
    'ghcr.io/org/repo/sub/image:sha-abc',
    'ghcr.io',
    'org/repo/sub/image',
    'sha-abc',
    undefined,
    'ghcr.io/org/repo/sub/image:sha-abc',
  ],
  [
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:2',
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
    'app',
    '2',
    undefined,
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:2',
  ],
  [
    'my-registry.example.com/a-b_c.d__e/f--g:1',
    'my-registry.example.com',
    'a-b_c.d__e/f--g',
    '1',
    undefined,
    'my-registry.example.com/a-b_c.d__e/f--g:1',
  ],
  // Tags.
  ['nginx:latest', 'docker.io', 'library/nginx', 'latest', undefined, 'docker.io/library/nginx:latest'],
  ['nginx:Latest', 'docker.io', 'library/nginx', 'Latest', undefined, 'docker.io/library/nginx:Latest'],
  [
    'nginx:1.25.3-alpine3.18',
    'docker.io',
    'library/nginx',
    '1.25.3-alpine3.18',
    undefined,
    'docker.io/library/nginx:1.25.3-alpine3.18',
  ],
  ['nginx:_underscore', 'docker.io', 'library/nginx', '_underscore', undefined, 'docker.io/library/nginx:_underscore'],
  [
    `nginx:${'t'.repeat(128)}`,
    'docker.io',
    'library/nginx',
    't'.repeat(128),
    undefined,
    `docker.io/library/nginx:${'t'.repeat(128)}`,
  ],
  // Digests, alone and with tags.
  [
    `nginx:1.25@sha256:${D}`,
    'docker.io',
    'library/nginx',
    '1.25',
    `sha256:${D}`,
    `docker.io/library/nginx:1.25@sha256:${D}`,
  ],
  [
    `registry.k8s.io/pause:3.9@sha256:${D2}`,
    'registry.k8s.io',
    'pause',
    '3.9',
    `sha256:${D2}`,
    `registry.k8s.io/pause:3.9@sha256:${D2}`,
  ],
  [
    `myprivateregistry.com:5000/nginx@sha256:${D}`,
    'myprivateregistry.com:5000',
    'nginx',
    undefined,
    `sha256:${D}`,
    `myprivateregistry.com:5000/nginx@sha256:${D}`,
  ],
  [
    `gcr.io/distroless/static@sha512:${'b'.repeat(128)}`,
    'gcr.io',
    'distroless/static',
    undefined,
    `sha512:${'b'.repeat(128)}`,
    `gcr.io/distroless/static@sha512:${'b'.repeat(128)}`,
  ],
  [
    `localhost:5000/app:v1@sha256:${D}`,
    'localhost:5000',
    'app',
    'v1',
    `sha256:${D}`,
    `localhost:5000/app:v1@sha256:${D}`,
  ],
  // Length: the path may have 255 characters whatever the domain (distribution/reference v0.6).
  [
    `example.com/${'a'.repeat(255)}:1`,
    'example.com',
    'a'.repeat(255),
    '1',
    undefined,
    `example.com/${'a'.repeat(255)}:1`,
  ],
  [
    `nginx${'x'.repeat(242)}:1`,
    'docker.io',
    `library/nginx${'x'.repeat(242)}`,
    '1',
    undefined,
    `docker.io/library/nginx${'x'.repeat(242)}:1`,
  ],
]

// [input, reason pattern]
const INVALID: Array<[string, RegExp]> = [
  ['', /at least one component/],
  ['NGINX', /repository name must be lowercase/],
  ['nginx/App', /repository name must be lowercase/],
  ['docker.io/Library/nginx', /repository name must be lowercase/],
  ['myregistry.com/MyApp:1', /repository name must be lowercase/],
  ['nginx:', /empty tag/],
  ['nginx:-bad', /invalid tag format/],
  ['nginx:.bad', /invalid tag format/],
  [`nginx:${'t'.repeat(129)}`, /invalid tag format/],
  ['nginx:a b', /invalid tag format|invalid reference/],
  ['nginx@sha256:123', /invalid digest format/],
  [`nginx@sha256:${D.toUpperCase()}`, /invalid sha256 digest/],
  [`nginx@sha256:${D}00`, /invalid sha256 digest/],
  [`nginx@md5:${'a'.repeat(32)}`, /unsupported digest algorithm "md5"/],
  ['nginx@', /invalid digest format/],
  ['nginx@sha256:', /invalid digest format/],
  ['/nginx', /at least one component/],
  ['reg.example.com/', /at least one component/],
  ['reg.example.com//app', /at least one component/],
  ['nginx//x', /at least one component/],
  ['-nginx', /invalid reference format/],
  ['nginx-', /invalid reference format/],
  ['ngi..nx', /invalid reference format/],
  ['reg.example.com:port/app', /invalid tag format|invalid registry host/],
  ['-reg.example.com/app', /invalid registry host/],
  [' nginx', /whitespace/],
  [D2, /64-byte hexadecimal/],
  // distribution/reference v0.6: 255 characters for the path (Docker Hub's library/ included), not the domain.
  [`reg.example.com/${'a'.repeat(256)}`, /path must not be more than 255 characters/],
  [`nginx${'x'.repeat(248)}`, /path must not be more than 255 characters/],
]

describe('image-reference', () => {
  describe('valid references', () => {
    for (const [input, registry, repository, tag, digest, normalized] of VALID) {
      it(`${input.length > 70 ? `${input.slice(0, 70)}…` : input}`, () => {
        const ref = parseImageReference(input)
        expect({registry: ref.registry, repository: ref.repository, tag: ref.tag, digest: ref.digest}).to.deep.equal({
          registry,
          repository,
          tag,
          digest,
        })
        expect(normalizeImageReference(ref)).to.equal(normalized)
        // Normalising is idempotent: the normalised form parses to the same reference.
        expect(normalizeImageReference(parseImageReference(normalized))).to.equal(normalized)
      })
    }
  })

  describe('invalid references are rejected with the reason', () => {
    for (const [input, reason] of INVALID) {
      it(`${JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input)}`, () => {
        let error: unknown
        try {
          parseImageReference(input)
        } catch (caught) {
          error = caught
        }
        expect(error).to.be.instanceOf(ImageReferenceError)
        expect((error as ImageReferenceError).reason).to.match(reason)
        expect((error as Error).message).to.contain(`"${input}"`)
      })
    }
  })

  describe('effective tag and familiar names', () => {
    it('no tag and no digest means latest; a digest alone means no tag', () => {
      expect(effectiveTag(parseImageReference('nginx'))).to.equal('latest')
      expect(effectiveTag(parseImageReference(`nginx@sha256:${D}`))).to.equal(undefined)
      expect(effectiveTag(parseImageReference('nginx:1.2'))).to.equal('1.2')
    })
    const familiar: Array<[string, string]> = [
      ['docker.io/library/nginx:1.25', 'nginx:1.25'],
      ['index.docker.io/bitnami/redis', 'bitnami/redis'],
      ['gcr.io/distroless/static-debian10', 'gcr.io/distroless/static-debian10'],
      ['docker.io/library/nginx/extra:1', 'library/nginx/extra:1'],
    ]
    for (const [input, expected] of familiar) {
      it(`familiar name of ${input} is ${expected}`, () =>
        expect(familiarImageName(parseImageReference(input))).to.equal(expected))
    }
  })

  it('has at least 60 table cases', () => {
    expect(VALID.length + INVALID.length).to.be.at.least(60)
  })
})

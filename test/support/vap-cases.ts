// The case table on which the ValidatingAdmissionPolicy's CEL must agree with the policy engine
// (src/lib/policy/policy.ts): evaluated with @bufbuild/cel in test/lib/policy/vap.test.ts, and by the real
// kube-apiserver in test/k8s/whitelist-vap.test.ts.
import {DEFAULT_POLICY, type ImagePolicy} from '../../src/lib/policy/policy.js'

const D = 'd'.repeat(64)

export const VAP_CASE_IMAGES = [
  'nginx',
  'httpd',
  'nginx:1.18.0',
  'nginx:latest',
  `nginx@sha256:${D}`,
  `nginx:latest@sha256:${D}`,
  `nginx:1.25@sha256:${D}`,
  'myprivateregistry.com:5000/nginx:alpine',
  'kainlite/kube-image-bouncer:latest',
  'registry.k8s.io/kube-apiserver:v1.32.0',
  'gcr.io/distroless/static-debian10',
  'gcr.io/distroless/static-debian12:nonroot',
  'gcr.io/distroless-evil/x:1',
  'index.docker.io/library/nginx:1',
  'registry-1.docker.io/bitnami/redis:7',
  'docker.io/bitnami/redis:7',
  'quay.io/prometheus/node-exporter:v1.8.0',
  'localhost:5000/app:dev',
  'localhost/app',
  'reg.example.com/team/app:2',
  'a.b.example.com/app:1',
  'example.com/app:1',
  'reg.example.com:5000/app:1',
  'NGINX',
  'nginx/App:1',
  'nginx:',
  'nginx@sha256:123',
  '-bad/x',
  'ghcr.io/org/repo/sub/image:sha-abc',
  '127.0.0.1:5000/app:1',
  'a.example.com:5000/app:1',
  'x.other.com:5000/app:1',
]

export const VAP_CASE_POLICIES: Array<[string, Partial<ImagePolicy>]> = [
  ['defaults', {}],
  ['docker.io + registry.k8s.io', {allowedRegistries: ['docker.io', 'registry.k8s.io']}],
  [
    'host:port, path prefix, wildcard',
    {allowedRegistries: ['myprivateregistry.com:5000', 'gcr.io/distroless', '*.example.com', 'docker.io/bitnami']},
  ],
  [
    'localhost and ports',
    {allowedRegistries: ['localhost:5000', 'localhost', '127.0.0.1:5000', 'registry-1.docker.io']},
  ],
  ['wildcard with a port', {allowedRegistries: ['*.example.com:5000']}],
  ['require digest, latest allowed', {requireDigest: true, denyLatest: false}],
  ['untagged allowed', {denyUntagged: false}],
]

/** A case policy as the engine and the renderer see it: no exempt namespaces, so every row is judged. */
export function casePolicy(override: Partial<ImagePolicy>): ImagePolicy {
  return {...DEFAULT_POLICY, exemptNamespaces: [], ...override}
}

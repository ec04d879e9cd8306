import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {UserError} from '../../../src/lib/errors.js'
import {parseImageReference} from '../../../src/lib/image/image-reference.js'
import {
  DEFAULT_MAX_IMAGE_AGE_DAYS,
  DEFAULT_POLICY,
  evaluateImage,
  type ImagePolicy,
  registryMatches,
} from '../../../src/lib/policy/policy.js'
import {
  loadPolicyFile,
  refuseImageContentRules,
  resolvePolicy,
  validatePolicy,
} from '../../../src/lib/policy/policy-file.js'

const D = 'c'.repeat(64)

describe('policy', () => {
  describe('registryMatches', () => {
    const cases: Array<[string, string, boolean]> = [
      ['docker.io', 'nginx', true],
      ['docker.io', 'index.docker.io/library/nginx', true],
      ['docker.io', 'registry-1.docker.io/library/nginx', true],
      ['registry-1.docker.io', 'nginx:1.25', true],
      ['docker.io', 'registry.k8s.io/pause:3.9', false],
      ['registry.k8s.io', 'registry.k8s.io/kube-apiserver:v1.32.0', true],
      ['myprivateregistry.com:5000', 'myprivateregistry.com:5000/nginx:alpine', true],
      ['myprivateregistry.com', 'myprivateregistry.com:5000/nginx:alpine', false],
      ['myprivateregistry.com:5000', 'myprivateregistry.com/nginx:alpine', false],
      ['gcr.io/distroless', 'gcr.io/distroless/static-debian10', true],
      ['gcr.io/distroless', 'gcr.io/distroless-evil/static', false],
      ['gcr.io/distroless', 'gcr.io/other/static', false],
      ['gcr.io/distroless/', 'gcr.io/distroless/static', true],
      ['docker.io/bitnami', 'bitnami/redis:7', true],
      ['docker.io/bitnami', 'nginx:1', false],
      ['*.example.com', 'registry.example.com/app:1', true],
      ['*.example.com', 'a.b.example.com/app:1', true],
      ['*.example.com', 'example.com/app:1', false],
      ['*.example.com', 'evilexample.com/app:1', false],
      ['*.example.com', 'registry.example.com:5000/app:1', false],
      ['Registry.K8s.io', 'registry.k8s.io/pause:3.9', true],
    ]
    for (const [pattern, image, expected] of cases) {
      it(`${pattern} ${expected ? 'allows' : 'does not allow'} ${image}`, () => {
        expect(registryMatches(pattern, parseImageReference(image))).to.equal(expected)
      })
    }
  })

  describe('evaluateImage', () => {
    const allowlist: ImagePolicy = {...DEFAULT_POLICY, allowedRegistries: ['docker.io', 'registry.k8s.io']}
    const cases: Array<{
      image: string
      policy?: Partial<ImagePolicy>
      namespace?: string
      rules: string[]
      exempt?: string
    }> = [
      {image: 'nginx:1.25', rules: []},
      {image: 'nginx', rules: ['image-tag-missing']},
      {image: 'nginx:latest', rules: ['image-tag-latest']},
      {image: `nginx@sha256:${D}`, rules: []},
      {image: `nginx:latest@sha256:${D}`, rules: ['image-tag-latest']},
      {image: 'nginx:1.25', policy: {requireDigest: true}, rules: ['image-digest-missing']},
      {image: `nginx:1.25@sha256:${D}`, policy: {requireDigest: true}, rules: []},
      {image: 'myprivateregistry.com:5000/nginx:alpine', policy: allowlist, rules: ['image-registry-not-allowed']},
      {image: 'httpd', policy: allowlist, rules: ['image-tag-missing']},
      {image: 'quay.io/x/y', policy: allowlist, rules: ['image-registry-not-allowed', 'image-tag-missing']},
      {image: 'nginx', policy: {denyUntagged: false}, rules: []},
      {image: 'nginx:latest', policy: {denyLatest: false}, rules: []},
      {image: 'NGINX', rules: ['image-reference-invalid']},
      {image: 'nginx', namespace: 'kube-system', rules: [], exempt: 'namespace'},
      {image: 'NGINX', namespace: 'kube-system', rules: [], exempt: 'namespace'},
      {image: 'registry.k8s.io/pause', policy: {exemptImages: ['registry.k8s.io/*']}, rules: [], exempt: 'image'},
      {image: 'busybox', policy: {exemptImages: ['docker.io/library/busybox:*']}, rules: [], exempt: 'image'},
      {image: 'busybox', policy: {exemptImages: ['docker.io/library/nginx:*']}, rules: ['image-tag-missing']},
    ]
    for (const {image, policy, namespace, rules, exempt} of cases) {
      it(`${image}${namespace ? ` in ${namespace}` : ''}${policy ? ` with ${JSON.stringify(policy)}` : ''} → ${rules.join(', ') || 'allowed'}`, () => {
        const verdict = evaluateImage(image, {namespace: namespace ?? 'default'}, {...DEFAULT_POLICY, ...policy})
        expect(verdict.violations.map((v) => v.rule)).to.deep.equal(rules)
        expect(verdict.allowed).to.equal(rules.length === 0)
        expect(verdict.exempt).to.equal(exempt)
        for (const violation of verdict.violations) expect(violation.message).to.contain(image)
      })
    }
  })

  describe('policy files', () => {
    let dir: string
    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'imgsec-policy-'))
    })
    const write = (name: string, text: string) => {
      const file = path.join(dir, name)
      writeFileSync(file, text)
      return file
    }

    it('reads a complete policy', () => {
      const file = write(
        'ok.yaml',
        [
          'apiVersion: imgsec.io/v1alpha1',
          'kind: ImagePolicy',
          'allowedRegistries: [docker.io, "registry.k8s.io", "myprivateregistry.com:5000", "gcr.io/distroless", "*.example.com"]',
          'requireDigest: true',
          'exemptNamespaces: [kube-system, imgsec-system]',
          'exemptImages: ["registry.k8s.io/*"]',
          'privateRegistries: ["myprivateregistry.com:5000"]',
          'breakGlass: false',
        ].join('\n'),
      )
      const policy = loadPolicyFile(file)
      expect(policy).to.deep.equal({
        ...DEFAULT_POLICY,
        allowedRegistries: [
          'docker.io',
          'registry.k8s.io',
          'myprivateregistry.com:5000',
          'gcr.io/distroless',
          '*.example.com',
        ],
        requireDigest: true,
        exemptNamespaces: ['kube-system', 'imgsec-system'],
        exemptImages: ['registry.k8s.io/*'],
        privateRegistries: ['myprivateregistry.com:5000'],
        breakGlass: false,
      })
    })

    it('reports every bad field with file, line and field path', () => {
      const file = write(
        'bad.yaml',
        'allowedRegistries:\n  - docker.io\n  - "https://bad"\ndenyLatest: "yes"\nexemptNamespaces: [Kube_System]\ncolour: red\n',
      )
      let message = ''
      try {
        loadPolicyFile(file)
      } catch (error) {
        expect(error).to.be.instanceOf(UserError)
        message = (error as Error).message
      }
      expect(message).to.contain(`${file}:3: allowedRegistries[1]: expected a registry host`)
      expect(message).to.contain(`${file}:4: denyLatest: must be true or false, not a string`)
      expect(message).to.contain(`${file}:5: exemptNamespaces[0]: not a valid namespace name`)
      // Values are the file's content: named by field and line, never repeated.
      expect(message).not.to.contain('https://bad').and.not.to.contain('"yes"').and.not.to.contain('Kube_System')
      expect(message).to.contain(`${file}:6: colour: unknown field`)
    })

    it('reads the --inspect fields: requireNonRootImage, forbidShell, maxImageAgeDays (unset: 365 for the audit), imageFactsFailurePolicy', () => {
      expect(DEFAULT_POLICY).to.include({requireNonRootImage: false, forbidShell: false})
      expect(DEFAULT_POLICY.maxImageAgeDays).to.equal(undefined)
      expect(DEFAULT_MAX_IMAGE_AGE_DAYS).to.equal(365)
      const ok = write(
        'inspect.yaml',
        'requireNonRootImage: true\nforbidShell: true\nmaxImageAgeDays: 90\nimageFactsFailurePolicy: Ignore\n',
      )
      expect(loadPolicyFile(ok)).to.include({
        requireNonRootImage: true,
        forbidShell: true,
        maxImageAgeDays: 90,
        imageFactsFailurePolicy: 'Ignore',
      })
      const bad = write(
        'inspect-bad.yaml',
        'forbidShell: 1\nmaxImageAgeDays: 0\nrequireNonRootImage: yes-please\nimageFactsFailurePolicy: allow\n',
      )
      let message = ''
      try {
        loadPolicyFile(bad)
      } catch (error) {
        message = (error as Error).message
      }
      expect(message).to.contain(`${bad}:1: forbidShell: must be true or false, not 1`)
      expect(message).to.contain(`${bad}:2: maxImageAgeDays: must be a whole number of days above 0 (e.g. 365), not 0`)
      expect(message).to.contain(`${bad}:3: requireNonRootImage: must be true or false, not a string`)
      expect(message).to.contain(`${bad}:4: imageFactsFailurePolicy: must be Fail or Ignore, not a string`)
      expect(message).to.not.contain('yes-please')
    })

    it('--mode vap refuses requireNonRootImage, forbidShell and maxImageAgeDays (a VAP cannot read images), naming them and the fix', () => {
      expect(() => refuseImageContentRules({...DEFAULT_POLICY}, 'p.yaml')).to.not.throw()
      expect(() => refuseImageContentRules({...DEFAULT_POLICY, forbidShell: true}, '--policy "p.yaml"')).to.throw(
        UserError,
        `--policy "p.yaml": forbidShell needs the image's contents, which a ValidatingAdmissionPolicy cannot read, so it would not be enforced: use the ImagePolicyWebhook mode (its backend reads images), or leave forbidShell out of the policy used for --mode vap (keep a separate policy file for the audit)`,
      )
      expect(() =>
        refuseImageContentRules({...DEFAULT_POLICY, requireNonRootImage: true, maxImageAgeDays: 30}, 'p.yaml'),
      ).to.throw(
        UserError,
        /^p\.yaml: requireNonRootImage and maxImageAgeDays need .* leave requireNonRootImage, maxImageAgeDays out/,
      )
    })

    it('validates exemptions: check and reason required, known string fields only', () => {
      const file = write(
        'exemptions.yaml',
        'exemptions:\n- {check: image-tag-latest, namespace: legacy, reason: "vendor image, ticket SEC-12"}\n- {check: privileged}\n- {check: run-as-root, reason: x, team: a}\n',
      )
      let message = ''
      try {
        loadPolicyFile(file)
      } catch (error) {
        message = (error as Error).message
      }
      expect(message).to.contain(`${file}:3: exemptions[1]: needs "reason"`)
      expect(message).to.contain(`${file}:4: exemptions[2].team: unknown field`)
      const ok = write(
        'exemptions-ok.yaml',
        'exemptions:\n- {check: image-tag-latest, namespace: legacy, reason: "vendor image"}\n',
      )
      expect(loadPolicyFile(ok).exemptions).to.deep.equal([
        {check: 'image-tag-latest', namespace: 'legacy', reason: 'vendor image'},
      ])
    })

    it('names the file and line of a YAML syntax error', () => {
      const file = write('syntax.yaml', 'allowedRegistries: [docker.io\n')
      expect(() => loadPolicyFile(file)).to.throw(
        UserError,
        new RegExp(
          `--policy "${file.replaceAll('/', '\\/')}" is not valid YAML \\(line \\d+, column \\d+: bad indentation`,
        ),
      )
    })

    it('rejects a non-mapping document', () => {
      expect(() => validatePolicy(['x'], 'p.yaml')).to.throw(UserError, /p\.yaml: a policy must be a mapping/)
    })

    it('--allowed-registries replaces the file list and is validated', () => {
      expect(resolvePolicy({allowedRegistries: ['docker.io', 'registry.k8s.io']}).allowedRegistries).to.deep.equal([
        'docker.io',
        'registry.k8s.io',
      ])
      expect(() => resolvePolicy({allowedRegistries: ['docker.io/']})).to.not.throw()
      expect(() => resolvePolicy({allowedRegistries: ['http://x']})).to.throw(
        UserError,
        /--allowed-registries: "http:\/\/x"/,
      )
    })
  })
})

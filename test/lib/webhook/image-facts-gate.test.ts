import {expect} from 'chai'
import {createServer, type Server} from 'node:net'

import {DEFAULT_POLICY, type ImagePolicy, needsImageFacts} from '../../../src/lib/policy/policy.js'
import {reviewBudget} from '../../../src/lib/webhook/review-budget.js'
import {createImageFactsGate, imageFactViolations} from '../../../src/lib/webhook/image-facts-gate.js'
import {requireRegistry, type RunningRegistry, startRegistry} from '../../support/registry.js'
import {
  buildTestImage,
  DEBIAN_LIKE,
  DISTROLESS_LIKE,
  layerOf,
  pushTestImage,
  pushTestIndex,
} from '../../support/test-images.js'

describe('image facts gate (webhook requireNonRootImage, forbidShell, maxImageAgeDays)', function () {
  this.timeout(120_000)

  describe('rules over facts (pure)', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    const policy = {...DEFAULT_POLICY, requireNonRootImage: true, forbidShell: true, maxImageAgeDays: 30}
    it('names the image, the rule and the evidence: user, shell paths, created date', () => {
      const facts = [{digest: 'sha256:a', user: '', created: '2025-01-01T00:00:00Z', shells: ['/bin/sh', '/bin/bash']}]
      expect(imageFactViolations('r/app:1', facts, policy, now)).to.deep.equal([
        {
          rule: 'image-runs-as-root',
          message:
            "r/app:1 sets no USER, so it runs as root (requireNonRootImage; admission cannot see the pod's runAsUser)",
        },
        {rule: 'image-has-shell', message: 'r/app:1 has a shell: /bin/sh, /bin/bash (forbidShell)'},
        {
          rule: 'image-stale',
          message: 'r/app:1 was built 365 days ago (created 2025-01-01T00:00:00Z), more than maxImageAgeDays (30)',
        },
      ])
    })
    it('passes a non-root, shell-free, recent image; no date is no age; platforms are named for an index', () => {
      const ok = {digest: 'sha256:a', user: '65532', created: '2025-12-30T00:00:00Z', shells: []}
      expect(imageFactViolations('r/app:1', [ok], policy, now)).to.deep.equal([])
      expect(imageFactViolations('r/app:1', [{...ok, created: '1970-01-01T00:00:00Z'}], policy, now)).to.deep.equal([])
      const two = [
        {...ok, platform: 'linux/amd64'},
        {...ok, platform: 'linux/arm64', user: 'root:root'},
      ]
      expect(imageFactViolations('r/app:1', two, policy, now).map((v) => v.message)).to.deep.equal([
        'r/app:1 [linux/arm64] sets USER "root:root", so it runs as root (requireNonRootImage; admission cannot see the pod\'s runAsUser)',
      ])
    })
    it('needsImageFacts: only a policy that states a content rule reads images', () => {
      expect(needsImageFacts(DEFAULT_POLICY)).to.equal(false)
      expect(needsImageFacts({...DEFAULT_POLICY, maxImageAgeDays: 90})).to.equal(true)
      expect(needsImageFacts({...DEFAULT_POLICY, forbidShell: true})).to.equal(true)
    })
  })

  describe('review budget', () => {
    it('answers with the work when it is done in time, else refuses naming the flag', async () => {
      const budget = reviewBudget(undefined, 50, '--image-facts-timeout')
      expect(budget.connection).to.include({timeoutMs: 50, timeoutFlag: '--image-facts-timeout'})
      expect(await budget.within(Promise.resolve(7))).to.equal(7)
      const never = new Promise(() => {})
      const started = Date.now()
      const error = await budget.within(never).catch((e: unknown) => e as Error)
      expect((error as Error).message).to.equal('not done within 0.05s (--image-facts-timeout)')
      expect(Date.now() - started).to.be.lessThan(1000)
      await budget.within(Promise.reject(new Error('boom'))).catch((e: unknown) => {
        expect((e as Error).message).to.equal('boom')
      })
    })
  })

  describe('against a real registry', () => {
    let registry: RunningRegistry
    let silent: Server
    let silentHost: string
    const refs: Record<string, string> = {}
    let base: ImagePolicy
    before(async function () {
      requireRegistry(this, 'the image-facts-gate tests')
      registry = await startRegistry()
      const debian = await layerOf(DEBIAN_LIKE)
      const distroless = await layerOf(DISTROLESS_LIKE)
      const recent = new Date().toISOString()
      const push = async (name: string, spec: Parameters<typeof buildTestImage>[0]) => {
        const {digest} = await pushTestImage(registry, `team/${name}`, '1', buildTestImage(spec))
        refs[name] = `${registry.host}/team/${name}@${digest}`
      }
      await push('root-shell', {layers: [debian], created: recent})
      await push('nonroot', {layers: [distroless], user: '65532', created: recent})
      await push('old', {layers: [distroless], user: '1000', created: '2019-03-01T12:00:00Z'})
      const index = await pushTestIndex(registry, 'team/multi', '1', [
        {layers: [distroless], user: '65532', created: recent, os: 'linux', architecture: 'amd64'},
        {layers: [distroless], user: '0', created: recent, os: 'linux', architecture: 'arm64'},
      ])
      refs.multi = `${registry.host}/team/multi@${index.digest}`
      silent = createServer(() => {})
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      silentHost = `127.0.0.1:${(silent.address() as {port: number}).port}`
      base = {...DEFAULT_POLICY, allowedRegistries: [registry.host, silentHost]}
    })
    after(async () => {
      await registry?.stop()
      silent?.close()
    })

    it('refuses by user, shell and age with evidence; admits a non-root image; judges each platform of an index', async () => {
      const gate = createImageFactsGate({budgetMs: 10_000})
      const policy = {...base, requireNonRootImage: true, forbidShell: true, maxImageAgeDays: 365}
      const [rootShell, nonroot, old, multi] = await gate(
        [refs['root-shell'], refs.nonroot, refs.old, refs.multi],
        'shop',
        policy,
      )
      expect(rootShell.map((v) => v.rule)).to.deep.equal(['image-runs-as-root', 'image-has-shell'])
      expect(rootShell[1].message).to.match(/has a shell: \/bin\/bash, \/bin\/sh|has a shell: \/bin\/sh/)
      expect(nonroot).to.deep.equal([])
      expect(old.map((v) => v.rule)).to.deep.equal(['image-stale'])
      expect(old[0].message).to.include('(created 2019-03-01T12:00:00Z), more than maxImageAgeDays (365)')
      expect(multi.map((v) => v.message)).to.deep.equal([
        `${refs.multi} [linux/arm64] sets USER "0", so it runs as root (requireNonRootImage; admission cannot see the pod's runAsUser)`,
      ])
    })

    it('resolves a tag at review time and names the digest it judged', async () => {
      const gate = createImageFactsGate({budgetMs: 10_000})
      const [found] = await gate([`${registry.host}/team/root-shell:1`], 'shop', {...base, requireNonRootImage: true})
      const digest = refs['root-shell'].split('@')[1]
      expect(found[0].message).to.equal(
        `${registry.host}/team/root-shell:1 (resolved to ${digest}) sets no USER, so it runs as root (requireNonRootImage; admission cannot see the pod's runAsUser)`,
      )
    })

    it('skips exempt namespaces and images the policy refuses anyway; reads nothing without a content rule', async () => {
      const gate = createImageFactsGate({budgetMs: 10_000})
      const policy = {...base, requireNonRootImage: true}
      expect(await gate([refs['root-shell']], 'kube-system', policy)).to.deep.equal([[]])
      expect(await gate(['quay.io/x/y:1'], 'shop', policy)).to.deep.equal([[]])
      expect(await gate([`${silentHost}/x@sha256:${'a'.repeat(64)}`], 'shop', base)).to.deep.equal([[]])
    })

    it('fail mode: an unreadable image is refused in time (Fail, the default) or admitted and logged (Ignore)', async () => {
      const logged: Array<Record<string, unknown>> = []
      const gate = createImageFactsGate({budgetMs: 500, log: (entry) => logged.push(entry)})
      const image = `${silentHost}/app@sha256:${'b'.repeat(64)}`
      const started = Date.now()
      const [refused] = await gate([image], 'shop', {...base, requireNonRootImage: true})
      expect(Date.now() - started).to.be.lessThan(3000)
      expect(refused).to.have.length(1)
      expect(refused[0].rule).to.equal('image-facts-unreadable')
      expect(refused[0].message).to.match(
        new RegExp(
          `^the contents of ${image} could not be read: .*0\\.5s \\(--image-facts-timeout\\).*\\(imageFactsFailurePolicy: Fail\\)$`,
        ),
      )
      const [admitted] = await gate([image], 'shop', {
        ...base,
        requireNonRootImage: true,
        imageFactsFailurePolicy: 'Ignore',
      })
      expect(admitted).to.deep.equal([])
      expect(logged).to.have.length(1)
      expect(logged[0]).to.include({level: 'warn', event: 'image-facts-unreadable', image, admitted: true})
    })

    it('concurrent reviews of one image share one read; a later config-only read keeps the full facts', async () => {
      const gate = createImageFactsGate({budgetMs: 10_000})
      const manifestReads = () =>
        registry
          .logs()
          .split('\n')
          .filter((line) => line.includes('http.request.method=GET') && line.includes(`/team/old/manifests/`)).length
      const before = manifestReads()
      const policy = {...base, forbidShell: true}
      const answers = await Promise.all([gate([refs.old], 'shop', policy), gate([refs.old], 'a', policy)])
      expect(answers).to.deep.equal([[[]], [[]]])
      expect(manifestReads() - before).to.equal(1)
      // Cached with its files: a config-only review and a forbidShell one need no registry now.
      expect(await gate([refs.old], 'shop', {...base, requireNonRootImage: true})).to.deep.equal([[]])
      expect(await gate([refs.old], 'shop', policy)).to.deep.equal([[]])
      expect(manifestReads() - before).to.equal(1)
    })

    it('a registry that does not answer does not hold the reads of another one', async () => {
      const gate = createImageFactsGate({budgetMs: 1500})
      const policy = {...base, requireNonRootImage: true}
      const stuck = Array.from({length: 10}, (_, i) => `${silentHost}/app${i}@sha256:${String(i).repeat(64)}`)
      const [answers, fine] = await Promise.all([gate(stuck, 'shop', policy), gate([refs.nonroot], 'shop', policy)])
      expect(answers.every((found) => found[0]?.rule === 'image-facts-unreadable')).to.equal(true)
      expect(fine).to.deep.equal([[]])
    })

    // Last: it stops the registry.
    it('caches facts by digest, at most maxCacheEntries (least recently used out); config-only facts do not serve forbidShell', async () => {
      const gate = createImageFactsGate({budgetMs: 2000, maxCacheEntries: 1})
      const nonRoot = {...base, requireNonRootImage: true}
      expect(await gate([refs.old], 'shop', nonRoot)).to.deep.equal([[]])
      expect(await gate([refs.nonroot], 'shop', nonRoot)).to.deep.equal([[]])
      await registry.stop()
      // Only the last one read is still cached.
      expect(await gate([refs.nonroot], 'shop', nonRoot)).to.deep.equal([[]])
      const [evicted] = await gate([refs.old], 'shop', nonRoot)
      expect(evicted[0].rule).to.equal('image-facts-unreadable')
      // Its config was read, not its layers: forbidShell needs the registry again.
      const [shell] = await gate([refs.nonroot], 'shop', {...nonRoot, forbidShell: true})
      expect(shell[0].rule).to.equal('image-facts-unreadable')
    })
  })
})

import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type Finding, runChecks} from '../../../src/lib/audit/audit.js'
import {manifestAuditInput, streamManifestAudit} from '../../../src/lib/audit/audit-files.js'
import {CHECKS} from '../../../src/lib/audit/checks/index.js'
import {collectFileImages, readTwice} from '../../../src/lib/audit/file-passes.js'
import {readManifests} from '../../../src/lib/audit/manifest-files.js'
import {DEFAULT_POLICY, type ImagePolicy} from '../../../src/lib/policy/policy.js'

const POLICY: ImagePolicy = {...DEFAULT_POLICY, privateRegistries: ['registry.example.com']}

const pod = (name: string, image: string, extra = '') =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: shop}\nspec:\n${extra}  containers: [{name: main, image: "${image}"}]\n`

const dockerconfig = Buffer.from(JSON.stringify({auths: {'registry.example.com': {auth: 'dTpw'}}})).toString('base64')

describe('file audits in two passes (--fix, the per-image options, private registries)', () => {
  let dir: string
  let files: string[]
  const noStdin = {readStdin: () => ''}
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imgsec-passes-'))
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text)
      return join(dir, name)
    }
    files = [
      // The Secret and the ServiceAccount that name it are in other files than the pods that use them.
      write(
        'a-secret.yaml',
        `apiVersion: v1\nkind: Secret\nmetadata: {name: regcred, namespace: shop}\ntype: kubernetes.io/dockerconfigjson\ndata: {.dockerconfigjson: ${dockerconfig}}\n`,
      ),
      write(
        'b-account.yaml',
        'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder, namespace: shop}\nimagePullSecrets: [{name: regcred}]\n',
      ),
      write(
        'c-pods.yaml',
        [
          pod('with-account', 'registry.example.com/team/app:1', '  serviceAccountName: builder\n'),
          pod('without', 'registry.example.com/team/app:1'),
          pod('public', 'nginx:1.25'),
        ].join('---\n'),
      ),
      write('d-broken.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: [\n'),
      write('e-more.yaml', pod('again', 'nginx:1.25') + '---\n' + pod('latest', 'redis')),
    ]
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('the first pass keeps the distinct images and the pull secrets of every file, not the files', () => {
    const first = collectFileImages(files, noStdin, POLICY)
    expect(first.objects).to.equal(7)
    expect(first.errors.map((error) => error.file)).to.deep.equal([files[3]])
    expect(first.images.workloads).to.have.length(1)
    expect(first.images.instances.map((instance) => instance.image)).to.deep.equal([
      'registry.example.com/team/app:1',
      'nginx:1.25',
      'redis',
    ])
    expect([...first.index.secretServers.keys()]).to.deep.equal(['shop/regcred'])
    expect(first.index.accountSecrets.get('shop/builder')).to.deep.equal(['regcred'])
  })

  it('the second pass finds what the whole input found, in the same order', async () => {
    const first = collectFileImages(files, noStdin, POLICY)
    const found: Finding[] = []
    const sink = {add: (finding: Finding) => found.push(finding), flush: async () => {}}
    const answers = {run: {}}
    const how = {index: first.index, answers, note: (finding: Finding) => finding, notices: []}
    const second = await streamManifestAudit(files, noStdin, POLICY, CHECKS, sink, {exempted: 0}, how)
    const whole = readManifests(files, noStdin)
    const expected = runChecks(manifestAuditInput(whole.objects, POLICY), POLICY, CHECKS)
    expect(found).to.deep.equal(expected)
    expect(second.workloads).to.equal(5)
    expect(second.skipped).to.equal(2)
    // The pod whose pull secret is declared in another file is covered; the one without is not.
    const missing = found.filter((finding) => finding.check === 'image-pull-secret-missing')
    expect(missing.map((finding) => finding.resource.name)).to.deep.equal(['without'])
  })

  it('standard input is read once for both passes', () => {
    let reads = 0
    const read = readTwice({readStdin: () => (reads++, pod('stdin', 'nginx'))})
    expect(read.readStdin(1024)).to.equal(read.readStdin(1024))
    expect(reads).to.equal(1)
    expect(collectFileImages(['-'], read, POLICY).objects).to.equal(1)
    expect(reads).to.equal(1)
  })
})

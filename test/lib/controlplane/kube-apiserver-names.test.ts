import {expect} from 'chai'
import {readFileSync} from 'node:fs'

import {KUBE_APISERVER_REFERENCE} from '../../../src/lib/controlplane/kube-apiserver-reference.js'
import {
  chooseRelease,
  manifestRelease,
  unknownNameProblems,
} from '../../../src/lib/controlplane/kube-apiserver-names.js'
import {closestName, editDistance} from '../../../src/lib/suggest.js'
import {parseApiserverHelp} from '../../control-plane/apiserver-reference.js'
import {proxyRefusals} from '../../control-plane/build.js'

const table = {
  '1.35': {
    flags: ['admission-control-config-file', 'audit-log-maxage', 'enable-admission-plugins', 'old-flag'],
    admissionPlugins: ['AlwaysPullImages', 'ImagePolicyWebhook', 'NodeRestriction'],
    defaultAdmissionPlugins: [],
  },
  '1.37': {
    flags: ['admission-control-config-file', 'audit-log-maxage', 'enable-admission-plugins'],
    admissionPlugins: ['AlwaysPullImages', 'ImagePolicyWebhook', 'NodeRestriction'],
    defaultAdmissionPlugins: [],
  },
}

describe('kube-apiserver names (patch-apiserver preflight)', () => {
  it("reads the release from the manifest's image", () => {
    expect(
      manifestRelease(
        readFileSync(new URL('../../fixtures/kube-apiserver.kubeadm-1.32.yaml', import.meta.url), 'utf8'),
      ),
    ).to.equal('1.32')
    expect(manifestRelease('    image: "registry.k8s.io/kube-apiserver-amd64:v1.9.11"\n')).to.equal('1.9')
    expect(manifestRelease('    image: registry.k8s.io/kube-apiserver@sha256:abc\n')).to.equal(undefined)
  })

  for (const [release, expected, note] of [
    ['1.35', '1.35', /^kube-apiserver v1\.35$/],
    [
      '1.36',
      '1.35',
      /^kube-apiserver v1\.35 \(the manifest runs v1\.36, which this kubectl-imgsec has no table for\)$/,
    ],
    ['1.40', '1.37', /v1\.37 \(the manifest runs v1\.40/],
    [undefined, '1.37', /v1\.37 \(the manifest names no kube-apiserver version\)/],
  ] as const) {
    it(`release ${release} is checked against ${expected}`, () => {
      const choice = chooseRelease(release, table)
      expect(choice.release).to.equal(expected)
      expect(choice.note).to.match(note)
    })
  }

  it('names a misspelt plugin or flag with the likely one; known names pass', () => {
    const choice = chooseRelease('1.37', table)
    expect(
      unknownNameProblems(
        {
          enablePlugins: ['ImagePolicyWebhook', 'ImagePolicyWebhok'],
          disablePlugins: ['noderestriction'],
          setFlags: ['audit-log-maxag', 'audit-log-maxage', 'zzz-unknown'],
        },
        choice,
      ),
    ).to.deep.equal([
      '--enable-plugins ImagePolicyWebhok: kube-apiserver v1.37 has no admission plugin of that name (did you mean ImagePolicyWebhook?); it would refuse to start',
      '--disable-plugins noderestriction: kube-apiserver v1.37 has no admission plugin of that name (did you mean NodeRestriction?); it would refuse to start',
      '--set-flag audit-log-maxag: kube-apiserver v1.37 has no flag --audit-log-maxag (did you mean --audit-log-maxage?); it would refuse to start',
      '--set-flag zzz-unknown: kube-apiserver v1.37 has no flag --zzz-unknown; it would refuse to start',
    ])
    expect(
      unknownNameProblems(
        {enablePlugins: [], disablePlugins: [], setFlags: ['old-flag']},
        chooseRelease('1.35', table),
      ),
    ).to.deep.equal([])
  })

  it('the built-in table knows the plugins and flags this tool writes, for every release it holds', () => {
    expect(Object.keys(KUBE_APISERVER_REFERENCE).length).to.be.greaterThan(0)
    for (const [release, reference] of Object.entries(KUBE_APISERVER_REFERENCE)) {
      expect(reference.admissionPlugins, release).to.include.members([
        'ImagePolicyWebhook',
        'NodeRestriction',
        'EventRateLimit',
        'AlwaysPullImages',
      ])
      expect(reference.flags, release).to.include.members([
        'enable-admission-plugins',
        'disable-admission-plugins',
        'admission-control-config-file',
      ])
    }
  })

  it('closestName: case, typos and swaps within a third of the name; nothing far off', () => {
    expect(closestName('imagepolicywebhook', ['ImagePolicyWebhook'])).to.equal('ImagePolicyWebhook')
    expect(closestName('ImagePolicyWebhok', ['ImagePolicyWebhook', 'NodeRestriction'])).to.equal('ImagePolicyWebhook')
    expect(closestName('NodeRestrcition', ['NodeRestriction'])).to.equal('NodeRestriction')
    expect(closestName('abc', ['xyz'])).to.equal(undefined)
    expect(closestName('ab', ['ax'])).to.equal('ax')
    expect(editDistance('ca', 'ac')).to.equal(1)
    expect(editDistance('kitten', 'sitting')).to.equal(3)
  })
})

describe('kube-apiserver --help parsing (npm run k8s:reference)', () => {
  const help = [
    'Generic flags:',
    '',
    '      --advertise-address ip    The IP address.',
    ...Array.from({length: 60}, (_, i) => `      --flag-${i} string   Flag ${i}.`),
    '      --enable-admission-plugins strings   admission plugins that should be enabled in addition to default enabled ones (NamespaceLifecycle, LimitRanger). Comma-delimited list of admission plugins: AlwaysAdmit,',
    '                ImagePolicyWebhook, NodeRestriction. The order of plugins in this flag does not matter.',
    '  -h, --help   help for kube-apiserver',
  ].join('\n')
  it('reads flag names, wrapped descriptions and the plugin lists', () => {
    const parsed = parseApiserverHelp(help)
    expect(parsed.flags).to.include.members(['advertise-address', 'enable-admission-plugins', 'help', 'flag-0'])
    expect(parsed.admissionPlugins).to.deep.equal(['AlwaysAdmit', 'ImagePolicyWebhook', 'NodeRestriction'])
    expect(parsed.defaultAdmissionPlugins).to.deep.equal(['NamespaceLifecycle', 'LimitRanger'])
  })
  it('refuses text that is not kube-apiserver --help', () => {
    expect(() => parseApiserverHelp('usage: something else')).to.throw(/does not look like kube-apiserver --help/)
  })
})

describe('k8s:build: what the Go module proxy refused', () => {
  it("keeps the lines that carry the proxy's answer", () => {
    const output = [
      'go: downloading k8s.io/api v0.37.2',
      'go: k8s.io/sample-controller@v0.37.2: reading https://proxy.golang.org/k8s.io/sample-controller/@v/v0.37.2.mod: 403 Forbidden',
      'k8s.io/kubernetes/cmd/kube-apiserver: compiling',
    ].join('\n')
    expect(proxyRefusals(output)).to.deep.equal([
      'go: k8s.io/sample-controller@v0.37.2: reading https://proxy.golang.org/k8s.io/sample-controller/@v/v0.37.2.mod: 403 Forbidden',
    ])
  })
})

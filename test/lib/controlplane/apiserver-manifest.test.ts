import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {editApiserverManifest, readFlags} from '../../../src/lib/controlplane/apiserver-manifest.js'
import {unifiedDiff} from '../../../src/lib/diff.js'
import {UserError} from '../../../src/lib/errors.js'
import {ROOT} from '../../support/cli.js'

const fixture = (name: string) => readFileSync(path.join(ROOT, 'test', 'fixtures', name), 'utf8')

/** Lines removed and added, in order, from a real line diff. */
function changedLines(before: string, after: string): {removed: string[]; added: string[]} {
  const lines = unifiedDiff(before, after, {from: 'a', to: 'b'}).split('\n').slice(2)
  return {
    removed: lines.filter((line) => line.startsWith('-')).map((line) => line.slice(1)),
    added: lines.filter((line) => line.startsWith('+')).map((line) => line.slice(1)),
  }
}

const ENABLE = {
  enablePlugins: ['ImagePolicyWebhook'],
  setFlags: {'admission-control-config-file': '/etc/kubernetes/imgsec/admission-configuration.yaml'},
  hostPaths: ['/etc/kubernetes/imgsec'],
}

describe('apiserver-manifest', () => {
  describe('the kubeadm 1.32 manifest', () => {
    const original = fixture('kube-apiserver.kubeadm-1.32.yaml')

    it('changes exactly the intended lines', () => {
      const result = editApiserverManifest(original, ENABLE, 'm.yaml')
      expect(changedLines(original, result.text)).to.deep.equal({
        removed: ['    - --enable-admission-plugins=NodeRestriction'],
        added: [
          '    - --enable-admission-plugins=NodeRestriction,ImagePolicyWebhook',
          '    - --admission-control-config-file=/etc/kubernetes/imgsec/admission-configuration.yaml',
          '    - mountPath: /etc/kubernetes/imgsec',
          '      name: imgsec-imgsec',
          '      readOnly: true',
          '  - hostPath:',
          '      path: /etc/kubernetes/imgsec',
          '      type: DirectoryOrCreate',
          '    name: imgsec-imgsec',
        ],
      })
      expect(result.text.split('\n').length).to.equal(original.split('\n').length + 8)
      const pod = parseYaml(result.text)
      expect(pod.spec.volumes.at(-1)).to.deep.equal({
        hostPath: {path: '/etc/kubernetes/imgsec', type: 'DirectoryOrCreate'},
        name: 'imgsec-imgsec',
      })
      expect(pod.spec.containers[0].volumeMounts.at(-1)).to.deep.equal({
        mountPath: '/etc/kubernetes/imgsec',
        name: 'imgsec-imgsec',
        readOnly: true,
      })
    })

    it('is idempotent: the second edit changes nothing', () => {
      const once = editApiserverManifest(original, ENABLE, 'm.yaml')
      const twice = editApiserverManifest(once.text, ENABLE, 'm.yaml')
      expect(twice.changes).to.deep.equal([])
      expect(twice.text).to.equal(once.text)
    })

    it('the inverse edit gives back the original bytes', () => {
      const once = editApiserverManifest(original, ENABLE, 'm.yaml')
      const back = editApiserverManifest(
        once.text,
        {
          disablePlugins: ['ImagePolicyWebhook'],
          removeFlags: ['admission-control-config-file'],
          removeVolumes: once.addedVolumes,
        },
        'm.yaml',
      )
      expect(back.text).to.equal(original)
    })

    it('adds no volume when /etc/kubernetes/pki (mounted by kubeadm) covers the path', () => {
      const result = editApiserverManifest(
        original,
        {...ENABLE, hostPaths: ['/etc/kubernetes/pki/admission_configuration.yaml', '/etc/kubernetes/pki']},
        'm.yaml',
      )
      expect(result.addedVolumes).to.deep.equal([])
    })

    it('reproduces the hand edit of the seeds (fixture after ImagePolicyWebhook)', () => {
      const result = editApiserverManifest(
        original,
        {
          enablePlugins: ['ImagePolicyWebhook'],
          setFlags: {'admission-control-config-file': '/etc/kubernetes/pki/admission_configuration.yaml'},
        },
        'm.yaml',
      )
      const handEdited = fixture('kube-apiserver.kubeadm-1.32.imagepolicy.yaml')
      expect(readFlags(result.text, 'm')).to.deep.equal(readFlags(handEdited, 'h'))
      expect(
        editApiserverManifest(
          handEdited,
          {
            enablePlugins: ['ImagePolicyWebhook'],
            setFlags: {'admission-control-config-file': '/etc/kubernetes/pki/admission_configuration.yaml'},
          },
          'h',
        ).changes,
      ).to.deep.equal([])
    })
  })

  describe('hand-written manifests', () => {
    it('args in flow style (new items quoted like their neighbour), four-space indentation, the plugin in --disable-admission-plugins', () => {
      const original = fixture('kube-apiserver.args-flow.yaml')
      const result = editApiserverManifest(original, ENABLE, 'm.yaml')
      const flags = readFlags(result.text, 'm')
      expect(flags.get('disable-admission-plugins')).to.equal('PodNodeSelector')
      expect(flags.get('enable-admission-plugins')).to.equal('ImagePolicyWebhook')
      expect(flags.get('admission-control-config-file')).to.equal('/etc/kubernetes/imgsec/admission-configuration.yaml')
      const {removed, added} = changedLines(original, result.text)
      expect(removed).to.have.length(1)
      expect(removed[0]).to.contain('args: [')
      expect(added[0]).to.equal(
        "            args: [\"--advertise-address=10.0.0.10\", \"--disable-admission-plugins=PodNodeSelector\", '--authorization-mode=Node,RBAC', '--enable-admission-plugins=ImagePolicyWebhook', '--admission-control-config-file=/etc/kubernetes/imgsec/admission-configuration.yaml']",
      )
      expect(added.slice(1)).to.deep.equal([
        '                -   mountPath: /etc/kubernetes/imgsec',
        '                    name: imgsec-imgsec',
        '                    readOnly: true',
        '        -   hostPath:',
        '                path: /etc/kubernetes/imgsec',
        '                type: DirectoryOrCreate',
        '            name: imgsec-imgsec',
      ])
      expect(parseYaml(result.text).spec.containers[0].command).to.deep.equal(['kube-apiserver'])
      expect(editApiserverManifest(result.text, ENABLE, 'm').changes).to.deep.equal([])
    })

    it('comments everywhere, no --enable-admission-plugins, quoted flags: comments survive, the flag is added', () => {
      const original = fixture('kube-apiserver.comments.yaml')
      const result = editApiserverManifest(original, ENABLE, 'm.yaml')
      for (const comment of original.split('\n').filter((line) => line.includes('#')))
        expect(result.text).to.contain(comment)
      expect(readFlags(result.text, 'm').get('enable-admission-plugins')).to.equal('ImagePolicyWebhook')
      expect(result.text).to.contain(
        '    - --etcd-servers=https://127.0.0.1:2379\n    - --enable-admission-plugins=ImagePolicyWebhook\n',
      )
      const back = editApiserverManifest(
        result.text,
        {
          disablePlugins: ['ImagePolicyWebhook'],
          removeFlags: ['admission-control-config-file'],
          removeVolumes: result.addedVolumes,
        },
        'm',
      )
      // --enable-admission-plugins with an empty list is removed: the original comes back.
      expect(back.text).to.equal(original)
    })

    it('a plugin already enabled is not duplicated and keeps the order', () => {
      const original = fixture('kube-apiserver.kubeadm-1.32.imagepolicy.yaml')
      const result = editApiserverManifest(
        original,
        {enablePlugins: ['NodeRestriction', 'ImagePolicyWebhook', 'EventRateLimit']},
        'm',
      )
      expect(readFlags(result.text, 'm').get('enable-admission-plugins')).to.equal(
        'NodeRestriction,ImagePolicyWebhook,EventRateLimit',
      )
    })

    it('volume names never collide', () => {
      const original = fixture('kube-apiserver.kubeadm-1.32.yaml')
      const first = editApiserverManifest(original, {hostPaths: ['/opt/imgsec']}, 'm')
      const second = editApiserverManifest(first.text, {hostPaths: ['/srv/imgsec']}, 'm')
      expect([...first.addedVolumes, ...second.addedVolumes]).to.deep.equal(['imgsec-imgsec', 'imgsec-imgsec-2'])
    })
  })

  describe('bad input', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['not YAML', 'kind: Pod\nspec: [\n', /is not valid YAML \(line \d+, column \d+: [a-z]/],
      ['not a Pod', 'apiVersion: apps/v1\nkind: Deployment\n', /is not a Pod manifest \(kind: Deployment\)/],
      [
        'no apiserver container',
        'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: etcd\n    command: [etcd]\n',
        /has no kube-apiserver container/,
      ],
      ['empty file', '', /is not a Pod manifest/],
    ]
    for (const [title, text, message] of cases) {
      it(title, () => expect(() => editApiserverManifest(text, ENABLE, 'm.yaml')).to.throw(UserError, message))
    }
  })
})

import {expect} from 'chai'
import {parse as parseYaml} from 'yaml'

import {editClusterConfiguration} from '../../../src/lib/controlplane/kubeadm-config.js'

const CHANGE = {
  setArgs: {
    'enable-admission-plugins': 'NodeRestriction,ImagePolicyWebhook',
    'admission-control-config-file': '/etc/kubernetes/imgsec/admission-configuration.yaml',
  },
  removeArgs: [],
  addVolumes: [{name: 'imgsec-imgsec', path: '/etc/kubernetes/imgsec'}],
  removeVolumes: [],
}

describe('kubeadm ClusterConfiguration', () => {
  it('v1beta3: extraArgs is a map; volumes are added once', () => {
    const text =
      'apiServer:\n  extraArgs:\n    authorization-mode: Node,RBAC\n  timeoutForControlPlane: 4m0s\napiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v1.30.0\n'
    const first = editClusterConfiguration(text, CHANGE)
    const config = parseYaml(first.text)
    expect(config.apiServer.extraArgs).to.deep.equal({'authorization-mode': 'Node,RBAC', ...CHANGE.setArgs})
    expect(config.apiServer.extraVolumes).to.deep.equal([
      {
        name: 'imgsec-imgsec',
        hostPath: '/etc/kubernetes/imgsec',
        mountPath: '/etc/kubernetes/imgsec',
        readOnly: true,
        pathType: 'DirectoryOrCreate',
      },
    ])
    expect(config.apiServer.timeoutForControlPlane).to.equal('4m0s')
    const second = editClusterConfiguration(first.text, CHANGE)
    expect(second.changes).to.deep.equal([])
    expect(second.text).to.equal(first.text)
    const undone = editClusterConfiguration(first.text, {
      setArgs: {},
      removeArgs: Object.keys(CHANGE.setArgs),
      addVolumes: [],
      removeVolumes: ['imgsec-imgsec'],
    })
    expect(parseYaml(undone.text).apiServer.extraArgs).to.deep.equal({'authorization-mode': 'Node,RBAC'})
  })

  it('v1beta4: extraArgs is a list of name/value', () => {
    const text =
      'apiServer:\n  extraArgs:\n  - name: authorization-mode\n    value: Node,RBAC\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n'
    const edited = editClusterConfiguration(text, CHANGE)
    expect(parseYaml(edited.text).apiServer.extraArgs).to.deep.equal([
      {name: 'authorization-mode', value: 'Node,RBAC'},
      {name: 'enable-admission-plugins', value: 'NodeRestriction,ImagePolicyWebhook'},
      {name: 'admission-control-config-file', value: '/etc/kubernetes/imgsec/admission-configuration.yaml'},
    ])
    expect(edited.changes).to.have.length(3)
  })
})

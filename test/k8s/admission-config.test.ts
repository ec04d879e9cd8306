// The AdmissionConfiguration rules of patch-apiserver's preflight are kube-apiserver's own: each
// variant is started by the real binary, and our check must accept exactly what it starts.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {checkAdmissionConfiguration} from '../../src/lib/controlplane/admission-config.js'
import {ApiserverStartError, type ControlPlane} from '../control-plane/control-plane.js'
import {describeReal, startControlPlane, tempDir} from './support.js'

const OK = 'allowTTL: 50\n      denyTTL: 50\n      retryBackoff: 500\n      defaultAllow: false'

const VARIANTS: Array<{
  title: string
  starts: boolean
  apiVersion?: string
  imagePolicy?: string
  kubeConfigFile?: string
  extra?: string
}> = [
  {title: 'apiserver.config.k8s.io/v1', starts: true},
  {title: 'apiserver.k8s.io/v1alpha1 (the old form)', starts: true, apiVersion: 'apiserver.k8s.io/v1alpha1'},
  {
    title: 'apiserver.config.k8s.io/v1alpha1 (not registered)',
    starts: false,
    apiVersion: 'apiserver.config.k8s.io/v1alpha1',
  },
  {title: 'apiserver.k8s.io/v1 (not registered)', starts: false, apiVersion: 'apiserver.k8s.io/v1'},
  {
    title: "0: the plugin's defaults",
    starts: true,
    imagePolicy: 'allowTTL: 0\n      denyTTL: 0\n      retryBackoff: 0\n      defaultAllow: false',
  },
  {
    title: '-1: disabled',
    starts: true,
    imagePolicy: 'allowTTL: -1\n      denyTTL: -1\n      retryBackoff: -1\n      defaultAllow: true',
  },
  {title: 'every setting omitted', starts: true, imagePolicy: 'defaultAllow: false'},
  {title: 'allowTTL 1801', starts: false, imagePolicy: 'allowTTL: 1801\n      denyTTL: 50\n      retryBackoff: 500'},
  {title: 'denyTTL -2', starts: false, imagePolicy: 'allowTTL: 50\n      denyTTL: -2\n      retryBackoff: 500'},
  {
    title: 'retryBackoff 300001',
    starts: false,
    imagePolicy: 'allowTTL: 5\n      denyTTL: 5\n      retryBackoff: 300001',
  },
  {title: 'a fractional TTL', starts: false, imagePolicy: 'allowTTL: 1.5\n      denyTTL: 5\n      retryBackoff: 5'},
  {title: 'a TTL as a string', starts: false, imagePolicy: 'allowTTL: "5"\n      denyTTL: 5\n      retryBackoff: 5'},
  {
    title: 'defaultAllow: yes (YAML 1.1)',
    starts: true,
    imagePolicy: 'allowTTL: 5\n      denyTTL: 5\n      retryBackoff: 5\n      defaultAllow: yes',
  },
  {
    title: 'defaultAllow: "true" (a string)',
    starts: false,
    imagePolicy: 'allowTTL: 5\n      denyTTL: 5\n      retryBackoff: 5\n      defaultAllow: "true"',
  },
  {title: 'a relative kubeConfigFile', starts: false, kubeConfigFile: 'webhook.kubeconfig'},
  {
    title: 'any apiVersion/kind inside the plugin configuration',
    starts: true,
    extra: '    apiVersion: whatever/v9\n    kind: Nonsense\n',
  },
]

describeReal('AdmissionConfiguration: our check accepts exactly what kube-apiserver starts with', function () {
  this.timeout(300_000)
  let plane: ControlPlane
  let dir: string
  let kubeconfig: string
  before(async () => {
    plane = await startControlPlane()
    dir = tempDir('imgsec-admission-')
    kubeconfig = path.join(dir, 'webhook.kubeconfig')
    writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters:\n- name: backend\n  cluster:\n    server: https://127.0.0.1:1/image_policy\n    insecure-skip-tls-verify: true\nusers:\n- name: apiserver\n  user: {}\ncontexts:\n- name: webhook\n  context: {cluster: backend, user: apiserver}\ncurrent-context: webhook\n',
    )
  })
  after(async () => {
    await plane?.stop()
  })

  for (const [index, variant] of VARIANTS.entries()) {
    it(`${variant.title}: ${variant.starts ? 'starts' : 'refused'}`, async () => {
      const file = path.join(dir, `admission-${index}.yaml`)
      writeFileSync(
        file,
        [
          `apiVersion: ${variant.apiVersion ?? 'apiserver.config.k8s.io/v1'}`,
          'kind: AdmissionConfiguration',
          'plugins:',
          '- name: ImagePolicyWebhook',
          '  configuration:',
          `${variant.extra ?? ''}    imagePolicy:`,
          `      kubeConfigFile: ${variant.kubeConfigFile ?? kubeconfig}`,
          `      ${variant.imagePolicy ?? OK}`,
          '',
        ].join('\n'),
      )
      let started = true
      try {
        await plane.startApiserver({
          extraArgs: [
            '--enable-admission-plugins=NodeRestriction,ImagePolicyWebhook',
            `--admission-control-config-file=${file}`,
          ],
        })
      } catch (error) {
        if (!(error instanceof ApiserverStartError)) throw error
        started = false
      }
      let accepted = true
      let problem = ''
      try {
        checkAdmissionConfiguration(file, {requireImagePolicy: true})
      } catch (error) {
        accepted = false
        problem = (error as Error).message
      }
      expect(started, 'the real kube-apiserver').to.equal(variant.starts)
      expect(accepted, `our check: ${problem}`).to.equal(variant.starts)
    })
  }
})

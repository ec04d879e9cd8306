import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {parse as parseYaml} from 'yaml'

import {DEFAULT_POLICY} from '../../../src/lib/policy/policy.js'
import {validatePolicy} from '../../../src/lib/policy/policy-file.js'
import {renderPolicyFile} from '../../../src/lib/whitelist/files.js'
import {whitelistPolicy} from '../../../src/lib/whitelist/plan.js'
import {enableVap} from '../../../src/lib/whitelist/vap-mode.js'

describe('whitelist enable and the image-content rules (requireNonRootImage, forbidShell, maxImageAgeDays)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-content-rules-'))
  const policyFile = path.join(dir, 'policy.yaml')
  writeFileSync(
    policyFile,
    'allowedRegistries: [docker.io]\nrequireNonRootImage: true\nforbidShell: true\nmaxImageAgeDays: 90\n',
  )

  it('the ImagePolicyWebhook mode takes them: its backend (webhook serve) reads images', () => {
    const {policy} = whitelistPolicy({policyFile}, {exemptNamespaces: [], controlPlaneImages: []})
    expect(policy).to.include({requireNonRootImage: true, forbidShell: true, maxImageAgeDays: 90})
  })

  it('a problem (refused unless forced) when kube-system is not exempt: the control plane would depend on them', () => {
    const open = path.join(dir, 'open.yaml')
    writeFileSync(open, 'allowedRegistries: [registry.k8s.io]\nexemptNamespaces: []\nrequireNonRootImage: true\n')
    const {problems} = whitelistPolicy({policyFile: open}, {exemptNamespaces: [], controlPlaneImages: []})
    expect(problems).to.deep.equal([
      "the policy reads the contents of kube-system's images (requireNonRootImage, forbidShell or maxImageAgeDays): control-plane images that run as root, or a registry that does not answer, would block the control plane; keep kube-system in exemptNamespaces",
    ])
    expect(whitelistPolicy({policyFile}, {exemptNamespaces: [], controlPlaneImages: []}).problems).to.deep.equal([])
  })

  it("the backend's policy file carries them (only when asked for), and reads back the same", () => {
    const {policy} = whitelistPolicy({policyFile}, {exemptNamespaces: [], controlPlaneImages: []})
    const asked = {...policy, imageFactsFailurePolicy: 'Ignore' as const}
    const text = renderPolicyFile(asked)
    expect(validatePolicy(parseYaml(text), 'policy.yaml')).to.include({
      requireNonRootImage: true,
      forbidShell: true,
      maxImageAgeDays: 90,
      imageFactsFailurePolicy: 'Ignore',
    })
    expect(renderPolicyFile({...DEFAULT_POLICY})).to.not.match(
      /requireNonRootImage|forbidShell|maxImageAgeDays|imageFacts/,
    )
  })

  it('--mode vap refuses them before touching the cluster: a ValidatingAdmissionPolicy cannot read images', async () => {
    const error = await enableVap(
      {policyFile, allowAnyRegistry: false, paramsNamespace: 'imgsec', dryRun: 'none'},
      // Never reached: the policy is refused first.
      undefined as never,
    ).catch((e: unknown) => e as Error)
    expect((error as Error).message).to.equal(
      `--policy "${policyFile}": requireNonRootImage, forbidShell and maxImageAgeDays need the image's contents, which a ValidatingAdmissionPolicy cannot read, so they would not be enforced: use the ImagePolicyWebhook mode (its backend reads images), or leave requireNonRootImage, forbidShell, maxImageAgeDays out of the policy used for --mode vap (keep a separate policy file for the audit)`,
    )
  })
})

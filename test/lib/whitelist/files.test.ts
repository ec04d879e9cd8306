import {expect} from 'chai'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {loadPolicyFile} from '../../../src/lib/policy/policy-file.js'
import {renderPolicyFile, trustedKeyFiles, trustedKeyTexts, whitelistPaths} from '../../../src/lib/whitelist/files.js'
import {createAuthority, writeTrustedRoot} from '../../support/keyless.js'

describe('whitelist files: a keyless requireSignature for the static backend', () => {
  let dir: string
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'imgsec-wl-files-'))))
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('copies the trusted root beside the policy and names the copy; the backend reads back the same requirement', async () => {
    writeTrustedRoot(path.join(dir, 'root.json'), [await createAuthority('files root')])
    const source = path.join(dir, 'policy.yaml')
    writeFileSync(
      source,
      'requireSignature:\n- repositories: [registry.example.com/team]\n  keyless:\n    trustedRoot: root.json\n    identities: [{issuer: https://issuer.example, subjectRegExp: "^ci@"}]\n',
    )
    const policy = loadPolicyFile(source)
    const paths = whitelistPaths(path.join(dir, 'config'))
    mkdirSync(paths.backendDir, {recursive: true})
    const files = trustedKeyFiles(policy, paths.backendDir)
    expect(files).to.have.length(1)
    expect(files[0]).to.include({mode: 0o600})
    expect(path.dirname(files[0].path)).to.equal(paths.backendDir)
    for (const file of files) writeFileSync(file.path, file.content)
    const rendered = renderPolicyFile(policy, paths.backendDir)
    expect(rendered).to.not.match(/keys:/)
    writeFileSync(paths.policy, rendered)
    const [requirement] = loadPolicyFile(paths.policy).requireSignature!
    expect(requirement.keys).to.deep.equal([])
    expect(requirement.keyless!.root.name).to.equal(files[0].path)
    expect(requirement.keyless!.root.fingerprint).to.equal(policy.requireSignature![0].keyless!.root.fingerprint)
    expect(requirement.keyless!.identities).to.deep.equal([{issuer: 'https://issuer.example', subjectRegExp: '^ci@'}])
  })
  it('the deployment layout: the trusted root goes beside policy.yaml (its ConfigMap), named relative to it, and reads back', async () => {
    writeTrustedRoot(path.join(dir, 'deployment-root.json'), [await createAuthority('deployment root')])
    const source = path.join(dir, 'deployment-policy.yaml')
    writeFileSync(
      source,
      'requireSignature:\n- repositories: [registry.example.com/team]\n  keyless:\n    trustedRoot: deployment-root.json\n    identities: [{issuer: https://issuer.example, subject: ci@example.com}]\n',
    )
    const policy = loadPolicyFile(source)
    const texts = trustedKeyTexts(policy)
    expect([...texts.keys()]).to.have.length(1)
    const [[name, text]] = [...texts]
    expect(name).to.match(/^trusted-root-[0-9a-f]{16}\.json$/)
    expect(text).to.equal(policy.requireSignature![0].keyless!.root.text)
    // The ConfigMap's keys as files in one directory, as its volume mounts them.
    const mounted = path.join(dir, 'configmap')
    mkdirSync(mounted)
    writeFileSync(path.join(mounted, name), text)
    const rendered = renderPolicyFile(policy, '')
    expect(rendered).to.include(`trustedRoot: ${name}\n`)
    writeFileSync(path.join(mounted, 'policy.yaml'), rendered)
    const [requirement] = loadPolicyFile(path.join(mounted, 'policy.yaml')).requireSignature!
    expect(requirement.keyless!.root.fingerprint).to.equal(policy.requireSignature![0].keyless!.root.fingerprint)
    expect(requirement.keyless!.identities).to.deep.equal([
      {issuer: 'https://issuer.example', subject: 'ci@example.com'},
    ])
  })
})

// Issue 13: an audit's peak memory does not grow with the cluster. What is alive stays small
// (the streamed reads); these tests check the part V8 decides, the size it lets the heap take
// (src/lib/heap-profile.ts), by reading the heap spaces at the command's exit.
import {expect} from 'chai'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {ROOT, runCli} from '../support/cli.js'
import {FakeKubeApiServer} from '../support/fake-kube-api.js'
import {HEAP_FLAGS_V8_MAJOR} from '../../src/lib/heap-profile.js'

const MiB = 1024 * 1024
const recorder = pathToFileURL(path.join(ROOT, 'test', 'support', 'record-heap.mjs')).href

/** Runs the CLI with the heap recorder; the new space's size at exit, and the output. */
async function newSpaceAfter(args: string[], env: Record<string, string>, dir: string, defaults: boolean) {
  const file = path.join(dir, `heap-${defaults}.json`)
  const result = await runCli(args, {
    env: {
      ...env,
      NODE_OPTIONS: `--import=${recorder}`,
      IMGSEC_TEST_HEAP: file,
      IMGSEC_V8_DEFAULTS: defaults ? '1' : '0',
    },
  })
  expect(result.code, result.stderr).to.equal(0)
  const spaces = JSON.parse(readFileSync(file, 'utf8')) as Array<{name: string; size: number}>
  const newSpace = spaces.find(({name}) => name === 'new_space')
  expect(newSpace, 'new_space in V8 heap statistics').to.not.equal(undefined)
  return {newSpace: newSpace!.size, stdout: result.stdout}
}

const V8_MAJOR = Number(process.versions.v8.split('.')[0])

describe('heap size of an audit (issue 13: flat memory)', function () {
  this.timeout(120_000)
  const dir = mkdtempSync(path.join(tmpdir(), 'imgsec-heap-'))

  // The flags are set on Node 20's V8 only (heap-profile.ts).
  const cluster = V8_MAJOR === HEAP_FLAGS_V8_MAJOR ? it : it.skip
  cluster('a cluster audit stops V8 young generation from growing; the report is the same', async () => {
    const api = await FakeKubeApiServer.start({})
    try {
      // 2,000 pods of ~1.5 KB: enough allocation for V8's own sizing to grow the young generation. Their
      // registry is 127.0.0.1:1, which refuses connections at once.
      for (let i = 0; i < 2000; i++)
        api.seed({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {name: `web-${i}`, namespace: `team-${i % 20}`, annotations: {note: 'x'.repeat(800)}},
          spec: {
            containers: [
              {
                name: 'app',
                image: `127.0.0.1:1/app-${i % 50}:1.${i % 7}`,
                env: [{name: 'A', value: 'b'.repeat(200)}],
              },
              {name: 'proxy', image: '127.0.0.1:1/proxy:latest'},
            ],
          },
          status: {phase: 'Running'},
        })
      const kubeconfig = await api.writeKubeconfig(path.join(dir, 'kubeconfig'))
      const args = ['audit', 'images', '-A', '-o', 'json', '--fail-on', 'none']
      const tuned = await newSpaceAfter(args, {KUBECONFIG: kubeconfig}, dir, false)
      const defaults = await newSpaceAfter(args, {KUBECONFIG: kubeconfig}, dir, true)
      expect(JSON.parse(tuned.stdout).summary.total).to.be.greaterThan(2000)
      expect(tuned.stdout).to.equal(defaults.stdout)
      // The tuned run keeps what it grew to while oclif loaded, before the audit set the profile
      // (two 4 MiB semi-spaces on this machine); V8's own sizing goes on to two 16 MiB ones.
      expect(defaults.newSpace).to.be.at.least(2 * tuned.newSpace)
      // Asking the registries (port 1 refuses at once) parses their answers whole: V8's young generation.
      const perImage = await newSpaceAfter([...args, '--resolve-digests'], {KUBECONFIG: kubeconfig}, dir, false)
      expect(perImage.newSpace).to.be.at.least(2 * tuned.newSpace)
    } finally {
      await api.stop()
    }
  })

  it('a file audit lets the young generation grow (YAML syntax trees outlive a small one)', async () => {
    const docs: string[] = []
    for (let i = 0; i < 1000; i++)
      docs.push(
        `apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-${i}\n  annotations:\n    note: "${'x'.repeat(800)}"\nspec:\n  containers:\n  - name: app\n    image: registry.example.com/app-${i % 50}:1.${i % 7}\n`,
      )
    const file = path.join(dir, 'pods.yaml')
    writeFileSync(file, docs.join('---\n'))
    const args = ['audit', 'images', '-f', file, '-o', 'json', '--fail-on', 'none']
    const tuned = await newSpaceAfter(args, {}, dir, false)
    const defaults = await newSpaceAfter(args, {}, dir, true)
    expect(tuned.stdout).to.equal(defaults.stdout)
    expect(tuned.newSpace).to.be.greaterThan(8 * MiB)
    expect(tuned.newSpace).to.equal(defaults.newSpace)
  })
})

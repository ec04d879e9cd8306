import {expect} from 'chai'
import {chmodSync, mkdirSync, mkdtempSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {CLI, cliTranscript, KUBECTL, runCli, runProgram} from '../support/cli.js'

const PASSWORD = 'Typ0-Passw0rd-Kept'

// Every mistake a user can make on the command line: one `error:` line, kubectl's hint line with
// the command as typed (spaces, not oclif's colons), exit 1, a "did you mean" where we can tell.
const MISTAKES: Array<{title: string; args: string[]; error: string; hint?: string}> = [
  {
    title: 'a path where -f is needed',
    args: ['audit', 'images', 'examples'],
    error:
      'unexpected argument "examples": audit images takes no arguments; to audit files or directories, use -f examples',
    hint: 'audit images',
  },
  {
    title: 'a path where -f is needed, with flags',
    args: ['audit', 'images', 'examples', '-o', 'json'],
    error:
      'unexpected argument "examples": audit images takes no arguments; to audit files or directories, use -f examples',
    hint: 'audit images',
  },
  {
    title: 'a path after a flag',
    args: ['audit', 'images', '-o', 'json', 'examples'],
    error:
      'unexpected argument "examples": audit images takes no arguments; to audit files or directories, use -f examples',
    hint: 'audit images',
  },
  {
    title: 'a misspelt command',
    args: ['create-regcerd'],
    error: 'unknown command "create-regcerd" for "kubectl imgsec"; did you mean "create-regcred"?',
  },
  {
    title: 'a misspelt command with its arguments (a password among them)',
    args: ['create-regcerd', 'x', '--docker-password', PASSWORD],
    error: 'unknown command "create-regcerd" for "kubectl imgsec"; did you mean "create-regcred"?',
  },
  {
    title: 'a misspelt subcommand',
    args: ['whitelist', 'enabel', '--allowed-registries', 'docker.io'],
    error: 'unknown command "enabel" for "kubectl imgsec whitelist"; did you mean "whitelist enable"?',
    hint: 'whitelist',
  },
  {
    title: 'a misspelt subcommand of audit',
    args: ['audit', 'imagse', '-A'],
    error: 'unknown command "imagse" for "kubectl imgsec audit"; did you mean "audit images"?',
    hint: 'audit',
  },
  {
    title: 'a command that is nothing like ours',
    args: ['frobnicate'],
    error: 'unknown command "frobnicate" for "kubectl imgsec"',
  },
  {title: 'a misspelt top-level flag', args: ['--versoin'], error: 'unknown flag: --versoin; did you mean --version?'},
  {
    title: 'a misspelt flag',
    args: ['audit', 'images', '--filenam', 'examples'],
    error: 'unknown flag: --filenam; did you mean --filename?',
    hint: 'audit images',
  },
  {
    title: 'a flag that does not exist',
    args: ['patch-apiserver', '--restor'],
    error: 'unknown flag: --restor; did you mean --restore?',
    hint: 'patch-apiserver',
  },
  {
    title: 'a misspelt secret flag with its value',
    args: ['create-regcred', 'x', `--docker-passwrd=${PASSWORD}`],
    error: 'unknown flag: --docker-passwrd; did you mean --docker-password?',
    hint: 'create-regcred',
  },
  {
    title: 'a password without its flag',
    args: ['create-regcred', 'x', PASSWORD, '--docker-username', 'u'],
    error: 'an unexpected extra argument: create-regcred takes one argument, NAME',
    hint: 'create-regcred',
  },
  {
    title: 'an unknown shorthand flag',
    args: ['audit', 'images', '-x'],
    error: "unknown shorthand flag: 'x' in -x",
    hint: 'audit images',
  },
  {
    title: 'a value outside the options',
    args: ['audit', 'images', '-f', 'examples', '-o', 'jsn'],
    error: 'invalid value "jsn" for --output: one of table, json, yaml, sarif; did you mean "json"?',
    hint: 'audit images',
  },
  {
    title: 'a forgotten value',
    args: ['audit', 'images', '-f'],
    error: 'flag needs an argument: --filename (-f)',
    hint: 'audit images',
  },
  {
    title: 'a missing argument',
    args: ['create-regcred'],
    error: 'missing argument NAME (Name of the Secret (DNS-1123 subdomain))',
    hint: 'create-regcred',
  },
  {
    title: 'a value of the wrong type',
    args: ['webhook', 'serve', '--cert', 'a', '--key', 'b', '--port', 'abc'],
    error: 'invalid value for --port: expected an integer but received: abc',
    hint: 'webhook serve',
  },
  {
    title: 'flags that exclude each other',
    args: ['create-regcred', 'x', '--docker-username', 'u', '--docker-password', PASSWORD, '--password-stdin'],
    error: '--password-stdin=true cannot also be provided when using --docker-password',
    hint: 'create-regcred',
  },
]

/**
 * Flags that conflict, or that do nothing without another flag or in another mode, are refused in one
 * line saying why. (oclif's dependsOn checks a flag whenever it has a value, a default `false`
 * included, so `--rollback-on-failure` without `--wait` used to pass: every rule here is tested.)
 */
const RELATIONSHIPS: Array<{args: string[]; error: string; usage?: string}> = [
  // audit images
  {args: ['audit', 'images', '-f', 'examples', '--severity', 'HIGH'], error: '--severity applies only with --scan'},
  {args: ['audit', 'images', '-f', 'examples', '--ignore-unfixed'], error: '--ignore-unfixed applies only with --scan'},
  {
    args: ['audit', 'images', '-f', 'examples', '--docker-config', 'x.json'],
    error: '--docker-config applies only with --resolve-digests, --fix, --inspect or --verify-signatures',
  },
  {
    args: ['audit', 'images', '-f', 'examples', '--ca-file', 'ca.crt'],
    error: '--ca-file applies only with --resolve-digests, --fix, --inspect or --verify-signatures',
  },
  {
    args: ['audit', 'images', '-f', 'examples', '--insecure-skip-tls-verify'],
    error: '--insecure-skip-tls-verify applies only with --resolve-digests, --fix, --inspect or --verify-signatures',
  },
  {args: ['audit', 'images', '-f', 'examples', '--in-place'], error: '--in-place applies only with --fix'},
  {args: ['audit', 'images', '-f', 'examples', '--fix-dir', 'out'], error: '--fix-dir applies only with --fix'},
  {
    args: ['audit', 'images', '-f', 'examples', '--fix', '--backup-dir', 'b'],
    error: '--backup-dir applies only with --fix --in-place',
  },
  {
    args: ['audit', 'images', '-f', 'examples', '--fix', '--in-place', '--fix-dir', 'out'],
    error: '--fix-dir applies only without --in-place (which edits the files themselves)',
  },
  {
    args: ['audit', 'images', '-f', 'examples', '--resolve-digests', '--ca-file', 'c', '--insecure-skip-tls-verify'],
    error: '--ca-file=c cannot also be provided when using --insecure-skip-tls-verify',
    usage: 'audit images',
  },
  // patch-apiserver
  {
    args: ['patch-apiserver', '--enable-plugins', 'AlwaysPullImages', '--rollback-on-failure'],
    error: '--rollback-on-failure applies only with --wait',
  },
  {
    args: ['patch-apiserver', '--enable-plugins', 'AlwaysPullImages', '--timeout', '1m'],
    error: '--timeout applies only with --wait',
  },
  {args: ['patch-apiserver', '--restore', '-o', 'json'], error: '--output applies only with --list-backups'},
  // create-regcred
  {
    args: ['create-regcred', 'x', '--docker-username', 'u', '--docker-password', 'p', '--no-verify', '--ca-file', 'c'],
    error: '--ca-file applies only to the registry check (off with --no-verify and --dry-run=client)',
  },
  {
    args: [
      'create-regcred',
      'x',
      '--docker-username',
      'u',
      '--docker-password',
      'p',
      '--dry-run=client',
      '--insecure-skip-tls-verify',
    ],
    error: '--insecure-skip-tls-verify applies only to the registry check (off with --no-verify and --dry-run=client)',
  },
  {
    args: [
      'create-regcred',
      'x',
      '--docker-username',
      'u',
      '--docker-password',
      'p',
      '--ca-file',
      'c',
      '--insecure-skip-tls-verify',
    ],
    error: '--ca-file=c cannot also be provided when using --insecure-skip-tls-verify',
    usage: 'create-regcred',
  },
  // webhook serve
  {
    args: ['webhook', 'serve', '--cert', 'a', '--key', 'b', '--client-ca', 'c', '--allow-unauthenticated'],
    error: '--client-ca=c cannot also be provided when using --allow-unauthenticated',
    usage: 'webhook serve',
  },
  // whitelist: each flag belongs to one --mode
  {args: ['whitelist', 'status', '--params-namespace', 'x'], error: '--params-namespace applies only with --mode vap'},
  {
    args: ['whitelist', 'status', '--mode', 'vap', '--config-dir', '/x'],
    error: '--config-dir applies only with --mode webhook (the default)',
  },
  {
    args: ['whitelist', 'disable', '--mode', 'vap', '--keep-backend'],
    error: '--keep-backend applies only with --mode webhook (the default)',
  },
  {args: ['whitelist', 'disable', '--params-namespace', 'x'], error: '--params-namespace applies only with --mode vap'},
  {
    args: ['whitelist', 'add-registry', 'r.example.com', '--mode', 'vap', '--config-dir', '/x'],
    error: '--config-dir applies only with --mode webhook (the default)',
  },
  {
    args: ['whitelist', 'remove-registry', 'r.example.com', '--params-namespace', 'x'],
    error: '--params-namespace applies only with --mode vap',
  },
]

describe('flag relationships: conflicting and inapplicable flags are refused in one line (built CLI)', () => {
  for (const {args, error, usage} of RELATIONSHIPS) {
    it(args.join(' '), async () => {
      const result = await runCli(args)
      expect(result.code, result.stderr).to.equal(1)
      expect(result.stdout).to.equal('')
      expect(result.stderr).to.equal(
        `error: ${error}\n${usage ? `See 'kubectl imgsec ${usage} --help' for usage.\n` : ''}`,
      )
    })
  }
})

describe('command-line mistakes follow kubectl: one error line, a hint, exit 1 (built CLI)', () => {
  for (const {title, args, error, hint} of MISTAKES) {
    it(title, async () => {
      const result = await runCli(args)
      expect(result.code, result.stderr).to.equal(1)
      expect(result.stdout).to.equal('')
      expect(result.stderr).to.equal(
        `error: ${error}\nSee 'kubectl imgsec${hint ? ` ${hint}` : ''} --help' for usage.\n`,
      )
    })
  }

  it("a bare --dry-run means --dry-run=client, with kubectl's warning; --dry-run server still takes its value", async () => {
    const bare = await runCli([
      'create-regcred',
      'x',
      '--docker-username',
      'u',
      '--docker-password',
      'p',
      '--dry-run',
      '-o',
      'name',
    ])
    expect(bare.code, bare.stderr).to.equal(0)
    expect(bare.stderr).to.equal('warning: --dry-run is deprecated and can be replaced with --dry-run=client.\n')
    expect(bare.stdout).to.equal('secret/x\n')
    const last = await runCli([
      'create-regcred',
      'x',
      '--docker-username',
      'u',
      '--docker-password',
      'p',
      '-o',
      'name',
      '--dry-run',
    ])
    expect(last.stdout).to.equal('secret/x\n')
    const valued = await runCli([
      'create-regcred',
      'x',
      '--docker-username',
      'u',
      '--docker-password',
      'p',
      '--dry-run',
      'client',
      '-o',
      'name',
    ])
    expect(valued.stderr).to.equal('')
    expect(valued.stdout).to.equal('secret/x\n')
  })

  it('help and help COMMAND print the help, as kubectl help does', async () => {
    const root = await runCli(['help'])
    expect(root.code).to.equal(0)
    expect(root.stdout).to.equal((await runCli(['--help'])).stdout)
    const command = await runCli(['help', 'audit', 'images'])
    expect(command.code).to.equal(0)
    expect(command.stdout).to.equal((await runCli(['audit', 'images', '--help'])).stdout)
  })

  describe('through the real kubectl as plugin dispatcher', () => {
    let env: Record<string, string>
    before(() => {
      const bin = path.join(mkdtempSync(path.join(tmpdir(), 'imgsec-conventions-')), 'plugin-bin')
      mkdirSync(bin, {recursive: true})
      symlinkSync(CLI, path.join(bin, 'kubectl-imgsec'))
      chmodSync(CLI, 0o755)
      env = {
        PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`,
        KUBECONFIG: '/nonexistent',
      }
    })
    for (const {title, args, error, hint} of MISTAKES.filter((m) =>
      [
        'a path where -f is needed',
        'a misspelt command',
        'a misspelt subcommand',
        'a misspelt flag',
        'a forgotten value',
      ].includes(m.title),
    )) {
      it(`kubectl imgsec ${args.join(' ')} (${title})`, async () => {
        const result = await runProgram(KUBECTL, ['imgsec', ...args], {env})
        cliTranscript.push({args: ['kubectl', 'imgsec', ...args], ...result})
        expect(result.code, result.stderr).to.equal(1)
        expect(result.stdout).to.equal('')
        expect(result.stderr).to.equal(
          `error: ${error}\nSee 'kubectl imgsec${hint ? ` ${hint}` : ''} --help' for usage.\n`,
        )
      })
    }
  })

  describe('secrets stay secret', () =>
    it('the password typed in the wrong place is in no output', () => {
      for (const run of cliTranscript) {
        expect(run.stdout).not.to.contain(PASSWORD)
        expect(run.stderr).not.to.contain(PASSWORD)
      }
    }))
})

import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {debugFlag} from '../cli/flags.js'
import {parseRequestTimeout} from '../lib/duration.js'

export default class Verify extends BaseCommand {
  static override summary = "Verify an image's cosign signature against trusted public keys (exit 0 signed, 1 not)."

  static override description = `Looks for the signatures cosign stores beside the image (the sha256-<hex>.sig tag in the same repository) and checks them with Sigstore's verifier against each --key. A signature counts only when it verifies with a trusted key and its payload names this image's digest and repository: a signature copied from another image, or made by another key, is refused with the reason.

An image given by tag is resolved to its digest first, as cosign does; the output names the digest that was verified. Registry credentials come from --docker-config (docker's config.json).

Exit codes: 0 verified; 1 not verified (no signature, or none valid), or a usage or registry error.`

  static override examples = [
    {
      description: 'Check an image signed with cosign sign --key cosign.key',
      command: 'kubectl imgsec verify registry.example.com/team/app@sha256:… --key cosign.pub',
    },
    {
      description: 'Any of two keys, a private registry, JSON for scripts',
      command:
        'kubectl imgsec verify registry.example.com/team/app:1.4 --key release.pub --key ci.pub --docker-config ~/.docker/config.json -o json',
    },
  ]

  static override args = {
    image: Args.string({description: 'The image: registry/repository@sha256:… or :tag.', required: true}),
  }

  static override flags = {
    key: Flags.string({
      description: 'Trusted public key (PEM: ECDSA P-256, Ed25519 or RSA, e.g. cosign.pub); repeatable.',
      multiple: true,
    }),
    'docker-config': Flags.string({description: 'docker config.json with registry credentials.'}),
    'ca-file': Flags.string({description: 'CA certificate (PEM) of the registry.'}),
    'insecure-skip-tls-verify': Flags.boolean({
      description: "Don't check the registry's TLS certificate.",
      default: false,
    }),
    'request-timeout': Flags.string({
      description: 'How long the registry may take to answer (30s, 1m, or seconds; 0: no limit).',
      default: '30s',
    }),
    output: Flags.option({
      char: 'o',
      description: 'Output format (default: one line).',
      options: ['json'] as const,
    })(),
    debug: debugFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Verify)
    const {describeVerdict, verifyImage} = await import('../lib/signature/verify-command.js')
    const result = await verifyImage({
      image: args.image,
      keyFiles: flags.key ?? [],
      dockerConfig: flags['docker-config'],
      connection: {
        caFile: flags['ca-file'],
        insecureSkipTlsVerify: flags['insecure-skip-tls-verify'],
        timeoutMs: parseRequestTimeout(flags['request-timeout']),
      },
    })
    process.stdout.write(
      flags.output === 'json' ? JSON.stringify(result, null, 2) + '\n' : describeVerdict(result) + '\n',
    )
    if (result.status !== 'verified') process.exitCode = 1
  }
}

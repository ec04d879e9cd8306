import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {debugFlag, givenFlags, refuseInapplicable} from '../cli/flags.js'
import {parseRequestTimeout} from '../lib/duration.js'

const KEYLESS_FLAGS = [
  'certificate-identity',
  'certificate-identity-regexp',
  'certificate-oidc-issuer',
  'certificate-oidc-issuer-regexp',
  'trusted-root',
]

export default class Verify extends BaseCommand {
  static override summary =
    "Verify an image's cosign signature against trusted public keys or keyless identities (exit 0 signed, 1 not)."

  static override description = `Looks for the signatures cosign stores beside the image (the sha256-<hex>.sig tag in the same repository) and checks them with Sigstore's verifier against each --key. A signature counts only when it verifies with a trusted key and its payload names this image's digest and repository: a signature copied from another image, or made by another key, is refused with the reason.

Keyless (instead of --key): the signature's certificate must chain to a certificate authority of --trusted-root (Sigstore's trusted_root.json, given offline: public Sigstore is not asked), name --certificate-identity (or match --certificate-identity-regexp) as its subject alternative name, and --certificate-oidc-issuer (or -regexp) in its Fulcio issuer extension. Without a transparency log entry or signed timestamp to vouch for when it signed, the certificate must be valid now: sign offline with a certificate that outlives the image's use, or re-sign. Regular expressions search unanchored, as cosign's: anchor them (^…$).

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
    {
      description: 'Keyless: a certificate from your CA, checked against a trusted root given offline',
      command:
        'kubectl imgsec verify registry.example.com/team/app@sha256:… --certificate-identity release@example.com --certificate-oidc-issuer https://issuer.example.com --trusted-root trusted_root.json',
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
    'certificate-identity': Flags.string({
      description: "Keyless: the signing certificate's subject alternative name (email or URI), exactly.",
    }),
    'certificate-identity-regexp': Flags.string({
      description: "Keyless: a regular expression the certificate's subject alternative name matches.",
    }),
    'certificate-oidc-issuer': Flags.string({
      description: "Keyless: the OIDC issuer in the certificate's Fulcio extension, exactly.",
    }),
    'certificate-oidc-issuer-regexp': Flags.string({
      description: "Keyless: a regular expression the certificate's OIDC issuer matches.",
    }),
    'trusted-root': Flags.string({
      description: "Keyless: Sigstore's trusted_root.json (the CAs certificates must chain to), offline.",
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
    const {args, flags, metadata} = await this.parse(Verify)
    refuseInapplicable(givenFlags(flags, metadata), [
      {
        flags: KEYLESS_FLAGS,
        appliesTo: 'without --key (keyless; a policy requireSignature entry may trust keys and identities together)',
        when: flags.key === undefined,
      },
    ])
    const {describeVerdict, verifyImage} = await import('../lib/signature/verify-command.js')
    const result = await verifyImage({
      image: args.image,
      keyFiles: flags.key ?? [],
      keyless: {
        certificateIdentity: flags['certificate-identity'],
        certificateIdentityRegexp: flags['certificate-identity-regexp'],
        certificateOidcIssuer: flags['certificate-oidc-issuer'],
        certificateOidcIssuerRegexp: flags['certificate-oidc-issuer-regexp'],
        trustedRoot: flags['trusted-root'],
      },
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

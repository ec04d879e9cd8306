// Longer than 300 lines because its flags (the help text of about thirty of them) are half of it;
// the logic is in src/lib/audit.
import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {SEVERITIES, type Severity} from '../../lib/audit/checks/types.js'
import type {ImageAuditOptions} from '../../lib/audit/audit-run.js'
import type {AuditSummary} from '../../lib/audit/audit.js'
import {
  allNamespacesFlag,
  allowedRegistriesFlag,
  backupDirFlag,
  debugFlag,
  flatList,
  fleetFlags,
  givenFlags,
  kubeconfigFlags,
  kubeTarget,
  listFlag,
  namespaceFlag,
  refuseInapplicable,
} from '../../cli/flags.js'
import {AUDIT_FORMATS} from '../../lib/audit/reporters.js'

/** `--inspect` on a terminal: one line, rewritten as images are read, cleared when done. */
function progressLine(done: number, total: number, bytes: number): void {
  const line = `inspecting images: ${done}/${total}, ${(bytes / 1024 / 1024).toFixed(1)} MiB of layers read`
  process.stderr.write(done < total ? `\r${line}\u001B[K` : '\r\u001B[K')
}

/** Exit codes CI relies on (documented in the README). */
export const AUDIT_EXIT = {clean: 0, usage: 1, findings: 3} as const

export default class AuditImages extends BaseCommand {
  static override summary = 'Find insecure images and container settings in a live cluster or in manifest files.'

  static override description = `Checks every container, init container and ephemeral container: latest/missing tags, missing digests, registries not allowed, pull policy of mutable tags, missing pull secrets, root, privilege escalation, privileged, writable root filesystem, capabilities, resource limits; with --verify-signatures, the cosign signatures the policy's requireSignature asks for.

Exit codes: 0 nothing at or above --fail-on; 3 findings at or above --fail-on; 1 usage error, unreadable input, an object of the wrong shape, or no Kubernetes object at all (unless --allow-empty). Each problem is reported with its file and line after the report; the rest is still audited.

Files are read as kubectl reads them (YAML 1.1: yes/no/on/off are booleans, << merge keys, a duplicate key keeps its last value); only regular files, at most --max-file-size each (stdin too).

Skip checks for the whole run with --ignore-check ID (comma-separated or repeated). Exempt a workload from a check with the annotation imgsec.io/ignore: "check-id,container-name/check-id" (unless the policy sets allowAnnotationExemptions: false).

With --inspect the images themselves are read from their registries (config and layers, streamed; layer results cached by digest): root user, shell, package manager, network tools, age, credentials in ENV/LABEL, setuid files. --image-archive reads docker save / OCI layout tarballs offline.

Every check (its ID, severity, why it matters and the fix) is documented in docs/checks.md; SARIF output links each rule to its section.`

  static override examples = [
    {description: 'Audit the shipped examples without a cluster', command: 'kubectl imgsec audit images -f examples/'},
    {
      description: 'Every namespace, only registries you trust, SARIF for code scanning',
      command: 'kubectl imgsec audit images -A --allowed-registries docker.io,registry.k8s.io -o sarif > imgsec.sarif',
    },
    {
      description: 'Manifests from a pipeline, fail the build on medium or worse',
      command: 'helm template . | kubectl imgsec audit images -f - --fail-on medium',
    },
    {
      description: 'Look inside the images: shells, root user, age, credentials',
      command: 'kubectl imgsec audit images -f k8s/ --inspect --docker-config ~/.docker/config.json',
    },
    {
      description: 'An image saved with docker save, scanned too, before it is pushed',
      command: 'kubectl imgsec audit images --image-archive nginx.tar --scan',
    },
    {
      description: 'Skip checks that do not apply to you',
      command: 'kubectl imgsec audit images -A --ignore-check resources-missing,root-filesystem-writable',
    },
  ]

  // `audit images examples` means `audit images -f examples`: files are never positional here.
  static override unexpectedArgumentHint = (arg: string) => `to audit files or directories, use -f ${arg}`

  static override flags = {
    filename: Flags.string({
      char: 'f',
      description:
        'Manifest file, directory (recursive) or - for stdin; repeatable. Without it the live cluster is audited.',
      multiple: true,
    }),
    namespace: namespaceFlag,
    'all-namespaces': allNamespacesFlag,
    selector: Flags.string({char: 'l', description: 'Label selector for pods (cluster mode), e.g. app=web.'}),
    policy: Flags.string({
      description:
        'Image policy file (YAML): allowedRegistries, denyLatest, requireDigest, privateRegistries, exemptions.',
    }),
    'allowed-registries': allowedRegistriesFlag(),
    'require-digest': Flags.boolean({description: 'Treat images without a digest as high severity.', default: false}),
    output: Flags.option({
      char: 'o',
      description: 'Output format.',
      options: AUDIT_FORMATS,
      default: 'table' as const,
    })(),
    scan: Flags.boolean({
      description: 'Scan each distinct image for vulnerabilities with trivy (when on PATH).',
      default: false,
    }),
    severity: Flags.string({
      description: 'With --scan: severities trivy reports (e.g. CRITICAL,HIGH).',
    }),
    'ignore-unfixed': Flags.boolean({
      description: 'With --scan: leave out vulnerabilities without a fix.',
      default: false,
    }),
    'resolve-digests': Flags.boolean({
      description:
        "Ask the registries which digest each tag points to now (credentials: the pods' pull secrets, or --docker-config).",
      default: false,
    }),
    'verify-signatures': Flags.boolean({
      description:
        "Verify the cosign signatures the --policy file's requireSignature asks for (implies --resolve-digests).",
      default: false,
    }),
    inspect: Flags.boolean({
      description:
        "Read each image from its registry (config and layers, streamed) and check what is inside: root user, shell, package manager, network tools, age, credentials in ENV/LABEL, setuid files (credentials: the pods' pull secrets, or --docker-config).",
      default: false,
    }),
    platform: listFlag({
      description:
        'With --inspect or --image-archive: which image of a multi-platform index to read, OS/ARCH[/VARIANT], comma-separated or repeated (default: the platforms of the cluster nodes, else linux/amd64).',
    }),
    'image-archive': Flags.string({
      description:
        "Audit the images of a `docker save` tarball or an OCI layout tar, offline, with the image checks (as --inspect); repeatable. With -f: the manifests' images it holds are read from it (the others from their registries with --inspect). With --scan, trivy reads it (--input).",
      multiple: true,
    }),
    'no-cache': Flags.boolean({
      description:
        'With --inspect: read every layer from the registry, ignoring the layer cache ($XDG_CACHE_HOME/kubectl-imgsec/layers, else ~/.cache/kubectl-imgsec/layers; at most 256 MiB).',
      default: false,
    }),
    'docker-config': Flags.string({
      description:
        'docker config.json with registry credentials for --resolve-digests, --inspect and --verify-signatures.',
    }),
    'ca-file': Flags.string({
      description: 'CA certificate (PEM) of the registries, for --resolve-digests, --inspect and --verify-signatures.',
    }),
    'insecure-skip-tls-verify': Flags.boolean({
      description: "Don't check the registries' TLS certificates (--resolve-digests, --inspect, --verify-signatures).",
      default: false,
      exclusive: ['ca-file'],
    }),
    fix: Flags.boolean({
      description: 'With -f: write copies of the files with every image pinned by digest (implies --resolve-digests).',
      default: false,
    }),
    'fix-dir': Flags.string({
      description: 'Where --fix writes the copies (mirroring the input paths).',
      default: 'imgsec-fixed',
    }),
    'in-place': Flags.boolean({
      description: 'With --fix: edit the files themselves, after a backup.',
      default: false,
    }),
    'backup-dir': backupDirFlag('Where --fix --in-place keeps backups.', '.imgsec-backups'),
    'ignore-check': listFlag({
      description: 'Check IDs to skip, comma-separated or repeated (see docs/checks.md); an unknown ID is refused.',
    }),
    'max-file-size': Flags.string({
      description:
        'Largest manifest file (or stdin) read, in bytes or as 512Ki, 32Mi, 1Gi; a larger one is reported and skipped.',
      default: '32Mi',
    }),
    'allow-empty': Flags.boolean({
      description:
        'Input without any Kubernetes object is not an error (by default it is: a CI gate pointed at the wrong path must fail).',
      default: false,
    }),
    'fail-on': Flags.option({
      description: 'Lowest severity that makes the exit code 3.',
      options: [...SEVERITIES, 'none'] as const,
      default: 'high' as const,
    })(),
    ...kubeconfigFlags,
    ...fleetFlags,
    debug: debugFlag,
  }

  async run(): Promise<void> {
    const {flags, metadata} = await this.parse(AuditImages)
    // Flags of the other source (files or the cluster) would be ignored: refuse them, saying where they apply.
    const files = flags.filename !== undefined
    const archives = flags['image-archive'] !== undefined
    // oclif's dependsOn checks a flag whenever it has a value, a default false included, so it never
    // refuses anything here: these rules look at the flags the user typed.
    const resolving = flags['resolve-digests'] || flags.fix || flags['verify-signatures'] || flags.inspect
    const given = givenFlags(flags, metadata)
    const fleet = given.has('contexts') || given.has('all-contexts')
    refuseInapplicable(given, [
      {
        flags: ['namespace', 'all-namespaces', 'selector', 'kubeconfig', 'context', 'as', 'contexts', 'all-contexts'],
        appliesTo: 'to the cluster audit (without -f or --image-archive)',
        when: !files && !archives,
      },
      {flags: ['context'], appliesTo: 'without --contexts or --all-contexts (which name the clusters)', when: !fleet},
      {
        flags: ['all-contexts'],
        appliesTo: 'without --contexts (which names the clusters)',
        when: !given.has('contexts'),
      },
      {flags: ['max-concurrency'], appliesTo: 'with --contexts or --all-contexts', when: fleet},
      {
        flags: [
          'resolve-digests',
          'fix',
          'inspect',
          'no-cache',
          'docker-config',
          'ca-file',
          'insecure-skip-tls-verify',
        ],
        appliesTo:
          'to images in registries (an --image-archive alone is read offline; with -f they apply to the images it does not hold)',
        when: !archives || files,
      },
      {flags: ['fix-dir', 'max-file-size', 'allow-empty'], appliesTo: 'to files (-f)', when: files},
      {flags: ['platform'], appliesTo: 'with --inspect or --image-archive', when: flags.inspect || archives},
      {flags: ['no-cache'], appliesTo: 'with --inspect', when: flags.inspect},
      {flags: ['severity', 'ignore-unfixed'], appliesTo: 'with --scan', when: flags.scan},
      {
        flags: ['docker-config', 'ca-file', 'insecure-skip-tls-verify'],
        appliesTo: 'with --resolve-digests, --fix, --inspect or --verify-signatures',
        when: resolving,
      },
      {flags: ['in-place', 'fix-dir'], appliesTo: 'with --fix', when: flags.fix},
      {flags: ['backup-dir'], appliesTo: 'with --fix --in-place', when: flags['in-place']},
      {
        flags: ['fix-dir'],
        appliesTo: 'without --in-place (which edits the files themselves)',
        when: !flags['in-place'],
      },
    ])
    // Complete: flags → options (no I/O yet).
    const {asksRegistries, auditChecks, runImageAudit, validateImageAudit} =
      await import('../../lib/audit/audit-run.js')
    const {parseByteSize} = await import('../../lib/audit/manifest-sources.js')
    const {parsePlatform} = await import('../../lib/image/image-manifest.js')
    const registries = {
      dockerConfig: flags['docker-config'],
      caFile: flags['ca-file'],
      insecureSkipTlsVerify: flags['insecure-skip-tls-verify'],
    }
    const options: ImageAuditOptions = {
      files: flags.filename,
      policyFile: flags.policy,
      allowedRegistries: flatList(flags['allowed-registries']),
      requireDigest: flags['require-digest'],
      ignoreChecks: flatList(flags['ignore-check']),
      verifySignatures: flags['verify-signatures'],
      resolveDigests: flags['resolve-digests'] || flags.fix || flags['verify-signatures'] ? registries : undefined,
      imageArchives: flags['image-archive'],
      inspect:
        flags.inspect || archives
          ? {
              ...registries,
              platforms: flatList(flags.platform)?.map((p) => parsePlatform(p)),
              progress: process.stderr.isTTY ? progressLine : undefined,
              ...(flags['no-cache'] ? {cacheDir: false as const} : {}),
              ...(archives && !flags.inspect ? {registries: false} : {}),
            }
          : undefined,
      fix: flags.fix ? {dir: flags['fix-dir'], inPlace: flags['in-place'], backupDir: flags['backup-dir']} : undefined,
      scan: flags.scan ? {severity: flags.severity, ignoreUnfixed: flags['ignore-unfixed']} : undefined,
      maxFileSize: parseByteSize(flags['max-file-size']),
      allowEmpty: flags['allow-empty'],
    }
    // Validate: refuse bad combinations before reading any file or kubeconfig.
    validateImageAudit(options)
    const rules = await auditChecks(options)
    const {heapProfileFor, useHeapProfile} = await import('../../lib/heap-profile.js')
    useHeapProfile(heapProfileFor({files, archives, perImage: asksRegistries(options, rules)}))
    // Complete (cluster mode): one client from an explicit target; -n picks the namespace, -A clears it.
    const target = {...kubeTarget(flags), namespace: flags.namespace}
    const pods = {allNamespaces: flags['all-namespaces'], selector: flags.selector}
    const fleetAudit = !files && !archives ? await import('../../lib/audit/audit-fleet.js') : undefined
    const contexts = fleet ? fleetAudit?.fleetContexts(flags.kubeconfig, flatList(flags.contexts)) : undefined
    const cluster = fleetAudit && !contexts ? await fleetAudit.connectCluster(target, pods) : undefined
    // Run, printing each finding as it is made.
    const {reportWriter} = await import('../../lib/audit/report-stream.js')
    const report = reportWriter(flags.output, process.stdout, {
      colour: flags.output === 'table' && Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
      version: this.config.version,
      rules,
    })
    if (fleetAudit && contexts) {
      // A fleet: each cluster's failure is one line after the report; the others' findings stand.
      const maxConcurrency = flags['max-concurrency']
      const result = await fleetAudit.runFleetAudit(options, {target, contexts, pods, maxConcurrency}, report)
      await report.end(result.summary, {workloads: result.workloads, clusters: result.clusters})
      for (const notice of result.notices) process.stderr.write(`warning: ${notice}\n`)
      for (const {error} of result.clusters) if (error) this.printError(error)
      if (result.clusters.some(({error}) => error)) this.exit(AUDIT_EXIT.usage)
      return this.exitOnFindings(result.summary, flags['fail-on'])
    }
    const result = await runImageAudit(options, cluster, report)
    await report.end(result.summary, {
      workloads: result.workloads,
      byShape: result.byShape,
      skipped: result.skipped,
      images: result.images,
    })
    for (const change of result.changes) process.stderr.write(`${change}\n`)
    for (const notice of result.notices) process.stderr.write(`warning: ${notice}\n`)
    for (const error of result.errors)
      this.printError(`${error.file}${error.line ? `:${error.line}` : ''}: ${error.message}`)
    if (result.errors.length > 0) this.exit(AUDIT_EXIT.usage)
    await this.exitOnFindings(result.summary, flags['fail-on'])
  }

  private async exitOnFindings(summary: AuditSummary, failOn: Severity | 'none'): Promise<void> {
    const {summaryReaches} = await import('../../lib/audit/audit.js')
    if (summaryReaches(summary, failOn)) this.exit(AUDIT_EXIT.findings)
  }
}

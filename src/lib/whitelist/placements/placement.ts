import type {ClusterAccess} from '../../cluster/connection.js'
import type {BackupRecord} from '../../controlplane/backups.js'
import type {UndoJournal} from '../../controlplane/undo-journal.js'
import type {ImagePolicy} from '../../policy/policy.js'
import type {WhitelistPaths} from '../files.js'
import type {Pki} from '../pki.js'
import type {BackendPlan, BackendTarget, EnableCommonOptions, PolicyNeeds, ResolvedEnableOptions} from '../plan.js'
import type {RegistryCredentialsSource} from '../registry-credentials.js'
import type {WhitelistState} from '../state.js'

export interface PreflightContext {
  cluster: ClusterAccess
  dryRun: boolean
  /** Warnings to print after the run, in order. */
  warnings: string[]
  /** A warning to print now (before the impact report). */
  warnNow: (warning: string) => void
}

export interface ApplyContext {
  paths: WhitelistPaths
  pki: Pki
  cluster: ClusterAccess
  journal: UndoJournal
  changes: string[]
  backups: BackupRecord[]
  options: Pick<EnableCommonOptions, 'backupDir' | 'command' | 'backendTimeoutMs'>
  /** What the previous enable recorded (a re-run keeps what it created). */
  previous?: WhitelistState
  /** The docker config.json of --docker-config, read and checked at preflight (never planned nor printed). */
  dockerConfig?: string
}

/** What a started backend leaves for state.json, so that disable can undo it. */
export interface AppliedBackend {
  staticPod?: string
  objects?: Array<Record<string, any>>
  /** Where the backend reads its registry credentials (a file, a Secret), for status. */
  registryCredentials?: string
}

export interface UndoContext {
  cluster: ClusterAccess
  backupDir: string
  command: string
  changes: string[]
  backups: BackupRecord[]
}

/**
 * Where the image policy backend runs (one strategy per placement, no `if (placement === …)`
 * elsewhere): `static` (a static pod on this control-plane node), `deployment` (in the cluster),
 * `external` (run by the user). `enable` asks each step in this order.
 */
export interface BackendPlacement<O extends ResolvedEnableOptions> {
  /** The policy rules the placement needs; may refuse the placement itself (a lockout risk). */
  policyNeeds(options: O): PolicyNeeds
  /** Where the backend reads requireSignature's keys (the policy names them there); undefined: the user's backend, as named. */
  keyDir(paths: WhitelistPaths): string | undefined
  /** Checks of the flags and the files they name (a real run), before the cluster is asked or anything written. */
  check(options: O, dryRun: boolean): void
  /** What the API server will dial; a real run asks the cluster first (permissions, version, the node address). */
  preflight(options: O, context: PreflightContext): Promise<BackendTarget>
  /** The backend's files and objects (pure). */
  plan(
    options: O,
    input: {
      paths: WhitelistPaths
      policy: ImagePolicy
      policyText: string
      target: BackendTarget
      registryCredentials?: RegistryCredentialsSource
    },
  ): BackendPlan
  /** Start the backend as planned, every write and create journaled, and wait until it is ready. */
  apply(plan: BackendPlan, target: BackendTarget, context: ApplyContext): Promise<AppliedBackend>
  /** `whitelist disable`, before it changes anything: can the backend be stopped (RBAC for its objects)? */
  preflightUndo(state: WhitelistState, cluster: ClusterAccess): Promise<void>
  /** `whitelist disable`: stop the backend that enable started, as state.json recorded it. */
  undo(state: WhitelistState, context: UndoContext): Promise<void>
}

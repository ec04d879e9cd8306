import type {BackendPlan, BackendTarget, PolicyNeeds, ResolvedEnableOptions} from '../plan.js'
import type {WhitelistPaths} from '../files.js'
import type {PlacementName} from '../state.js'
import {deploymentPlacement} from './deployment.js'
import {externalPlacement} from './external.js'
import type {AppliedBackend, ApplyContext, BackendPlacement, PreflightContext} from './placement.js'
import {staticPlacement} from './static.js'

export type {AppliedBackend, ApplyContext, BackendPlacement, PreflightContext, UndoContext} from './placement.js'

/** Every placement by name (disable finds the one state.json names). */
export const PLACEMENTS: {[K in PlacementName]: BackendPlacement<Extract<ResolvedEnableOptions, {placement: K}>>} = {
  static: staticPlacement,
  deployment: deploymentPlacement,
  external: externalPlacement,
}

/** A placement with its options bound, so enable asks it without knowing which one it is. */
export interface BoundPlacement {
  name: PlacementName
  policyNeeds(): PolicyNeeds
  keyDir(paths: WhitelistPaths): string | undefined
  check(dryRun: boolean): void
  preflight(context: PreflightContext): Promise<BackendTarget>
  plan(input: Parameters<BackendPlacement<ResolvedEnableOptions>['plan']>[1]): BackendPlan
  apply(plan: BackendPlan, target: BackendTarget, context: ApplyContext): Promise<AppliedBackend>
}

function bind<O extends ResolvedEnableOptions>(strategy: BackendPlacement<O>, options: O): BoundPlacement {
  return {
    name: options.placement,
    policyNeeds: () => strategy.policyNeeds(options),
    keyDir: (paths) => strategy.keyDir(paths),
    check: (dryRun) => strategy.check(options, dryRun),
    preflight: (context) => strategy.preflight(options, context),
    plan: (input) => strategy.plan(options, input),
    apply: (plan, target, context) => strategy.apply(plan, target, context),
  }
}

/** The one place that chooses by placement. */
export function bindPlacement(options: ResolvedEnableOptions): BoundPlacement {
  switch (options.placement) {
    case 'static':
      return bind(staticPlacement, options)
    case 'deployment':
      return bind(deploymentPlacement, options)
    case 'external':
      return bind(externalPlacement, options)
  }
}

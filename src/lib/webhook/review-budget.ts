// One review's time budget, shared by everything the backend asks a registry while the API server
// waits (signatures, image contents): the requests share one deadline, and the answer never waits
// past it (a layer stream is bounded by inactivity only, so the deadline alone would not do).
import {UserError} from '../errors.js'
import type {RegistryConnection} from '../image/registry-client.js'

export interface ReviewBudget {
  /** The registry connection with the review's deadline, timeouts named by `flag`. */
  connection: RegistryConnection
  /** `work`, or a refusal naming `flag` once the budget is spent (the work goes on, unawaited). */
  within<T>(work: Promise<T>): Promise<T>
}

export function reviewBudget(
  base: Omit<RegistryConnection, 'timeoutMs' | 'deadline'> | undefined,
  budgetMs: number,
  flag: string,
): ReviewBudget {
  // The registry's clock is the real one (tests age caches with their own).
  const deadline = Date.now() + budgetMs
  return {
    connection: {...base, timeoutMs: budgetMs, deadline, timeoutFlag: flag},
    within: (work) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new UserError(`not done within ${budgetMs / 1000}s (${flag})`)),
          Math.max(0, deadline - Date.now()),
        )
        work.then(
          (value) => {
            clearTimeout(timer)
            resolve(value)
          },
          (error: unknown) => {
            clearTimeout(timer)
            reject(error as Error)
          },
        )
      }),
  }
}

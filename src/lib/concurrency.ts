/**
 * Run at most `max` tasks at once; the others wait their turn in order. For work that is heavy per
 * task (a trivy scan is a process, a registry lookup a TLS exchange) over many inputs.
 */
export function limitConcurrency(max: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0
  const queue: Array<() => void> = []
  return async (task) => {
    if (running >= max) await new Promise<void>((resolve) => queue.push(resolve))
    running++
    try {
      return await task()
    } finally {
      running--
      queue.shift()?.()
    }
  }
}

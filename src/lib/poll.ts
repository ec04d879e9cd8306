/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms)
  })
}

/**
 * Call `attempt` until it returns a value (anything but undefined) or `timeoutMs` has passed, with
 * `intervalMs` between attempts; undefined when the time ran out. An attempt that throws ends the
 * polling: an attempt that expects failures (connection refused while a server starts) catches
 * them and remembers them for its own message.
 */
export async function pollUntil<T>(
  attempt: () => Promise<T | undefined>,
  options: {timeoutMs: number; intervalMs: number},
): Promise<T | undefined> {
  const deadline = Date.now() + options.timeoutMs
  while (Date.now() < deadline) {
    // eslint-disable-next-line no-await-in-loop -- polling is sequential by nature
    const value = await attempt()
    if (value !== undefined) return value
    // eslint-disable-next-line no-await-in-loop
    await sleep(options.intervalMs)
  }
  return undefined
}

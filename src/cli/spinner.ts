/**
 * A progress indicator on stderr; a no-op unless stderr is a terminal, so machine output is never
 * mixed with it. It appears only when the work takes longer than a second (`delayMs`): quick
 * commands print nothing extra, slow ones say what they are waiting for.
 */
export interface Progress {
  update(text: string): void
  stop(): void
}

const SILENT: Progress = {update() {}, stop() {}}

export async function startProgress(
  text: string,
  options: {enabled?: boolean; delayMs?: number} = {},
): Promise<Progress> {
  if (options.enabled === false || !process.stderr.isTTY || process.env.CI) return SILENT
  let current = text
  let stopped = false
  let spinner: {text: string; stop(): void} | undefined
  const timer = setTimeout(async () => {
    // ora is loaded only when a spinner will really be shown.
    const {default: ora} = await import('ora')
    if (!stopped) spinner = ora({text: current, stream: process.stderr, discardStdin: false}).start()
  }, options.delayMs ?? 1000)
  timer.unref()
  return {
    update(next) {
      current = next
      if (spinner) spinner.text = next
    },
    stop() {
      stopped = true
      clearTimeout(timer)
      spinner?.stop()
    },
  }
}

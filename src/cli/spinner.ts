/** A progress indicator on stderr; a no-op unless stderr is a terminal, so machine output is never mixed with it. */
export interface Progress {
  update(text: string): void
  stop(): void
}

const SILENT: Progress = {update() {}, stop() {}}

export async function startProgress(text: string, options: {enabled?: boolean} = {}): Promise<Progress> {
  if (options.enabled === false || !process.stderr.isTTY || process.env.CI) return SILENT
  // ora is loaded only when a spinner will really be shown.
  const {default: ora} = await import('ora')
  const spinner = ora({text, stream: process.stderr, discardStdin: false}).start()
  return {
    update(next) {
      spinner.text = next
    },
    stop() {
      spinner.stop()
    },
  }
}

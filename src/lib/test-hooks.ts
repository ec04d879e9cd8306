/**
 * Fault injection for tests only: with IMGSEC_TEST_CRASH_AT=<step> the process kills itself with
 * SIGKILL when it reaches that step, so a test can prove that a write interrupted anywhere leaves
 * either the old or the new bytes. Without the variable this does nothing.
 */
export function crashPoint(step: string): void {
  if (process.env.IMGSEC_TEST_CRASH_AT === step) process.kill(process.pid, 'SIGKILL')
}

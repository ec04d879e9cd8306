// oclif checks, when it is imported, that node satisfies its own engines (>= 18): it loads all of
// semver for that, ~15 ms of every command's start. Ours (package.json engines) is stricter and is
// checked here with integers, before oclif is imported; OCLIF_DISABLE_ENGINE_WARNING is oclif's
// own switch for its check.

/** package.json's engines.node, as numbers (a test keeps them equal). */
export const REQUIRED_NODE = {major: 20, minor: 17, patch: 0} as const

/** The warning for a node older than REQUIRED_NODE, or undefined. */
export function nodeVersionWarning(version: string = process.versions.node): string | undefined {
  const [major, minor, patch] = version.split('.').map((part) => Number.parseInt(part, 10))
  const {major: needMajor, minor: needMinor, patch: needPatch} = REQUIRED_NODE
  const older = major !== needMajor ? major < needMajor : minor !== needMinor ? minor < needMinor : patch < needPatch
  if (!older) return undefined
  return `kubectl-imgsec needs Node.js ${needMajor}.${needMinor}.${needPatch} or later; this is ${version}`
}

/** Before oclif is imported: our check instead of oclif's. */
export function checkNodeVersion(): void {
  process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
  const warning = nodeVersionWarning()
  if (warning) process.emitWarning(warning)
}

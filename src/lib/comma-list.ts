/**
 * `a, b,,c` → `['a', 'b', 'c']`: the comma lists kubectl's list flags and kube-apiserver's flags
 * (`--enable-admission-plugins`) take, items trimmed and empty items dropped. The one splitter of the
 * CLI's flags, the webhook bundle's flags, the manifest's flags and the VAP parameters.
 */
export function splitCommaList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}

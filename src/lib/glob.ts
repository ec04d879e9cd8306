/** A `*` glob as an anchored RegExp; `*` matches any run of characters allowed by `star` (default: anything). */
export function globToRegExp(pattern: string, star = '.*'): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join(star)}$`,
  )
}

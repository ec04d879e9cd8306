import {UserError} from './errors.js'

/** Parse a Go-style duration as kubectl and kubeadm take them: 90s, 5m, 1m30s, 1h, 500ms. */
export function parseDuration(text: string, flag: string): number {
  const pattern = /(\d+(?:\.\d+)?)(ms|s|m|h)/g
  let total = 0
  let consumed = ''
  for (const match of text.matchAll(pattern)) {
    const value = Number(match[1])
    total += value * {ms: 1, s: 1000, m: 60_000, h: 3_600_000}[match[2] as 'ms' | 's' | 'm' | 'h']
    consumed += match[0]
  }
  if (consumed !== text || text === '')
    throw new UserError(`${flag} "${text}" is not a duration; use e.g. 90s, 5m or 1m30s`)
  return Math.round(total)
}

/**
 * kubectl's --request-timeout defaults to none, but kubectl still gives up on a dial after 30 s and a
 * TLS handshake after 10 s. A whole request is bounded here (the generated clients offer no phase
 * timeouts), so a server that accepts connections and never answers cannot hang a command.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/** kubectl's --request-timeout: a duration (30s, 1m) or plain seconds; "0" means no limit. */
export function parseRequestTimeout(value: string | undefined): number {
  if (value === undefined) return DEFAULT_REQUEST_TIMEOUT_MS
  if (/^\d+$/.test(value)) return Number(value) * 1000
  return parseDuration(value, '--request-timeout')
}

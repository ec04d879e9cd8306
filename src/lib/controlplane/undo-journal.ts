import {existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync} from 'node:fs'
import path from 'node:path'

import {writeFileAtomic} from '../atomic-write.js'
import {describeFailure, describeSystemError} from '../describe-error.js'

/**
 * What a multi-step change has done so far, so that a failure in a later step can put everything
 * back: files as they were (or gone, when the run created them), directories it created, and
 * other steps (objects created in the cluster) undone in reverse order.
 */
export class UndoJournal {
  private readonly files = new Map<string, {before?: Buffer; mode?: number}>()
  private readonly dirs: string[] = []
  private readonly steps: Array<{what: string; undo: () => unknown}> = []

  /** Call before the first write of `file` in this run. */
  rememberFile(file: string): void {
    if (this.files.has(file)) return
    this.files.set(file, existsSync(file) ? {before: readFileSync(file), mode: statSync(file).mode & 0o7777} : {})
  }

  /** Call before creating `dir` (and its parents) in this run. */
  rememberDir(dir: string): void {
    const missing: string[] = []
    for (let current = path.resolve(dir); !existsSync(current); current = path.dirname(current))
      missing.unshift(current)
    this.dirs.push(...missing.filter((d) => !this.dirs.includes(d)))
  }

  add(what: string, undo: () => unknown): void {
    this.steps.push({what, undo})
  }

  /** Undo everything, newest first; returns what could not be undone (never throws). */
  async rollback(): Promise<string[]> {
    const problems: string[] = []
    for (const step of this.steps.splice(0).reverse()) {
      try {
        // eslint-disable-next-line no-await-in-loop -- undo in order
        await step.undo()
      } catch (error) {
        problems.push(`${step.what}: ${describeFailure(error)}`)
      }
    }
    for (const [file, {before, mode}] of [...this.files].reverse()) {
      try {
        if (before === undefined) rmSync(file, {force: true})
        else writeFileAtomic(file, before, {mode})
      } catch (error) {
        problems.push(`${file} cannot be restored: ${describeSystemError(error)}`)
      }
    }
    this.files.clear()
    for (const dir of this.dirs.splice(0).reverse()) {
      try {
        if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir)
      } catch {
        problems.push(`${dir}: cannot be removed`)
      }
    }
    return problems
  }
}

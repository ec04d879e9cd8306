import type {Prompter} from '../../src/cli/wizard.js'

/** Answers prompts from a script and records every question, so a test sees exactly what was asked. */
export function scriptedPrompter(answers: Array<string | boolean>): Prompter & {asked: string[]} {
  const asked: string[] = []
  const next = (message: string, validate?: (value: string) => true | string) => {
    asked.push(message)
    if (answers.length === 0) throw new Error(`no scripted answer for "${message}"`)
    const answer = answers.shift()!
    if (validate && typeof answer === 'string') {
      const verdict = validate(answer)
      if (verdict !== true) throw new Error(`validation refused "${answer}": ${verdict}`)
    }
    return answer
  }
  return {
    asked,
    select: async (q) => {
      const answer = next(q.message) as string
      if (!q.choices.some((c) => c.value === answer)) throw new Error(`"${answer}" is not a choice of "${q.message}"`)
      return answer as never
    },
    input: async (q) => next(q.message, q.validate) as string,
    password: async (q) => next(q.message, q.validate) as string,
    confirm: async (q) => next(q.message) as boolean,
  }
}

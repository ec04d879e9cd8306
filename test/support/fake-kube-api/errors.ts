// The Status errors the fake API server answers with, worded as kube-apiserver words them.

import type {Obj} from './json.js'
import {qualified, type ResourceDef} from './resources.js'
import type {StatusCause} from './validation.js'

/** Anything thrown while serving a request; rendered as a metav1.Status body. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: {
      name?: string
      group?: string
      kind?: string
      causes?: Array<Partial<StatusCause> & {message: string}>
    },
  ) {
    super(message)
  }

  status(): Obj {
    const details =
      this.details && Object.fromEntries(Object.entries(this.details).filter(([, v]) => v !== undefined && v !== ''))
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(details ? {details} : {}),
      code: this.code,
    }
  }
}

export const badRequest = (message: string) => new ApiError(400, 'BadRequest', message)

export function notFound(def: ResourceDef, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(def)} "${name}" not found`, {
    name,
    group: def.group,
    kind: def.resource,
  })
}

export function unsupportedMediaType(accepted: string[]): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  )
}

export function invalid(def: ResourceDef, name: string, causes: StatusCause[]): ApiError {
  const text = (c: StatusCause) => `${c.field}: ${c.message}`
  const summary = causes.length === 1 ? text(causes[0]) : `[${causes.map(text).join(', ')}]`
  // Real Invalid errors carry the Kind (not the plural resource) in details.kind.
  return new ApiError(
    422,
    'Invalid',
    `${def.kind}${def.group ? '.' + def.group : ''} "${name}" is invalid: ${summary}`,
    {
      name,
      group: def.group,
      kind: def.kind,
      causes,
    },
  )
}

export function conflict(def: ResourceDef, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(def)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    {
      name,
      group: def.group,
      kind: def.resource,
    },
  )
}

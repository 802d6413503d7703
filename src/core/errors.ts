/**
 * Domain errors. Each API maps the kind to its own shape:
 * WuKongIM `{status, msg}` with HTTP 400/403/404/413; quick-im `{code, error}` 10001/10003/10004/10005.
 */
export type DomainErrorKind = 'invalid' | 'forbidden' | 'not_found' | 'too_large' | 'archived' | 'unauthorized'

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
  ) {
    super(message)
    this.name = 'DomainError'
  }
}

export const invalid = (msg: string) => new DomainError('invalid', msg)
export const forbidden = (msg: string) => new DomainError('forbidden', msg)
export const notFound = (msg: string) => new DomainError('not_found', msg)
export const tooLarge = (msg: string) => new DomainError('too_large', msg)
export const archived = (msg: string) => new DomainError('archived', msg)

/**
 * Strict field-by-field parsing of the JSON documents of the policy and the audit chain: every
 * check throws through the document's own `fail` (its error class), naming the field.
 */
export interface FieldParsers {
  object: (value: unknown, what: string) => Record<string, unknown>
  onlyFields: (obj: Record<string, unknown>, allowed: readonly string[], what: string) => void
  whole: (value: unknown, what: string, min: number, max?: number) => number
  text: (value: unknown, what: string, pattern: RegExp, maxLength: number) => string
  list: <T>(value: unknown, what: string, max: number, item: (v: unknown, i: number) => T) => T[]
}

export function fieldParsers (fail: (message: string) => never): FieldParsers {
  return {
    object: (value, what) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} must be an object`)
      return value as Record<string, unknown>
    },
    onlyFields: (obj, allowed, what) => {
      const extra = Object.keys(obj).filter(k => !allowed.includes(k))
      if (extra.length > 0) fail(`${what} has unknown field(s): ${extra.slice(0, 5).join(', ')}`)
    },
    whole: (value, what, min, max = Number.MAX_SAFE_INTEGER) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) fail(`${what} must be a whole number from ${min} to ${max}`)
      return value
    },
    text: (value, what, pattern, maxLength) => {
      if (typeof value !== 'string' || value.length === 0 || value.length > maxLength || !pattern.test(value)) fail(`${what} must be 1-${maxLength} characters matching ${pattern.source}`)
      return value
    },
    list: (value, what, max, item) => {
      if (!Array.isArray(value)) fail(`${what} must be a list`)
      if (value.length > max) fail(`${what} holds ${value.length} entries, at most ${max}`)
      return value.map(item)
    }
  }
}

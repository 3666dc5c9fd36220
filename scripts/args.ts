/** A bad command-line option of a script: printed as one line with the usage, exit code 2. */
export class UsageError extends Error {}

/** A whole-number option value within [min, max], or a UsageError naming the option. */
export function wholeNumberArg (name: string, value: string, min: number, max: number): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${value}"`)
  return n
}

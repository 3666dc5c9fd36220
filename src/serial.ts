/**
 * Runs async work one piece at a time, in the order it was asked for: a write that must not
 * interleave with another (a roster epoch, a record, an audit entry, a policy proposal). A piece
 * that fails fails alone; the next one runs.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve()

  async run<T> (work: () => Promise<T>): Promise<T> {
    const done = this.tail.then(work)
    this.tail = done.catch(() => {})
    return await done
  }

  /** Resolves once the work asked for so far is done. */
  async settled (): Promise<void> {
    await this.tail
  }
}

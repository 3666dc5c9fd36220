/**
 * Per key: signatures run side by side (shared), a change of the key's version runs alone
 * (exclusive). A new version's commit swaps every holder's active share; a signature in flight
 * across it would meet shares of two versions, and its honest signers would look at fault. The
 * exclusive side waits for the signatures at work and holds back new ones until it is done.
 */
export class KeyGate {
  private readonly readers = new Map<string, number>()
  private readonly writers = new Map<string, Promise<void>>()
  private readonly drained = new Map<string, () => void>()

  async shared<T> (keyId: string, work: () => Promise<T>): Promise<T> {
    for (let w = this.writers.get(keyId); w !== undefined; w = this.writers.get(keyId)) await w
    this.readers.set(keyId, (this.readers.get(keyId) ?? 0) + 1)
    try {
      return await work()
    } finally {
      const left = (this.readers.get(keyId) ?? 1) - 1
      if (left > 0) this.readers.set(keyId, left)
      else {
        this.readers.delete(keyId)
        this.drained.get(keyId)?.()
      }
    }
  }

  async exclusive<T> (keyId: string, work: () => Promise<T>): Promise<T> {
    for (let w = this.writers.get(keyId); w !== undefined; w = this.writers.get(keyId)) await w
    let release = (): void => {}
    this.writers.set(keyId, new Promise<void>(resolve => { release = resolve }))
    try {
      if ((this.readers.get(keyId) ?? 0) > 0) await new Promise<void>(resolve => this.drained.set(keyId, resolve))
      return await work()
    } finally {
      this.drained.delete(keyId)
      this.writers.delete(keyId)
      release()
    }
  }
}

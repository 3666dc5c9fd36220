/** The data directory cannot be used: wrong permissions, locked by another process, unreadable. */
export class DataDirError extends Error {
  override name = 'DataDirError'
}

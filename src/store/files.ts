import { mkdir, open, rename, stat, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DataDirError } from './errors.js'

/** Creates the data directory, private to its owner. */
export async function ensurePrivateDir (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
}

/**
 * Writes a file so that a crash at any point leaves either the old or the new content:
 * temp file with the final mode, fsync, rename over, fsync the directory.
 */
export async function writeFileAtomic (path: string, data: Uint8Array | string, mode = 0o600): Promise<void> {
  const tmp = join(dirname(path), `.${Date.now()}-${process.pid}.tmp`)
  const fh = await open(tmp, 'wx', mode)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
  const dh = await open(dirname(path), 'r')
  try {
    await dh.sync()
  } finally {
    await dh.close()
  }
}

/** Reads a secret file, refusing one that others can read (as ssh does with private keys). */
export async function readPrivateFile (path: string): Promise<Uint8Array | undefined> {
  let mode: number
  try {
    mode = (await stat(path)).mode
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  if ((mode & 0o077) !== 0) {
    throw new DataDirError(`${path} is readable by other users (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`)
  }
  return new Uint8Array(await readFile(path))
}

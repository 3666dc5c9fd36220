import { randomBytes } from 'node:crypto'
import { chmod, link, mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DataDirError } from './errors.js'

/** A data directory's mode: only its owner may list it or reach the files in it. */
const PRIVATE_DIR_MODE = 0o700
/** The permission bits of a mode (without the file type, setuid, setgid and sticky bits). */
const PERMISSION_BITS = 0o777
/** The group and other permission bits: a secret file with any of them set is refused. */
const SHARED_BITS = 0o077
/** Random bytes in a temporary file's name: two writes in one directory in one millisecond must not collide. */
const TMP_NAME_RANDOM_BYTES = 6

/**
 * Creates the data directory private to its owner, and makes an existing one private at every
 * start: mkdir's mode applies only to the directories it creates, so a directory made by hand
 * (or by `mkdir -p` with the usual umask) would otherwise stay listable by every local user.
 */
export async function ensurePrivateDir (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
  const mode = (await stat(dir)).mode & PERMISSION_BITS
  if (mode === PRIVATE_DIR_MODE) return
  try {
    await chmod(dir, PRIVATE_DIR_MODE)
  } catch (err) {
    throw new DataDirError(`${dir} is open to other users (mode ${mode.toString(8)}) and cannot be made private (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run: chmod 700 ${dir}`)
  }
}

/**
 * Writes a file so that a crash at any point leaves either the old or the new content:
 * temp file with the final mode, fsync, rename over, fsync the directory. `exclusive`: refuses
 * (EEXIST) to replace a file that exists.
 */
export async function writeFileAtomic (path: string, data: Uint8Array | string, mode = 0o600, opts: { exclusive?: boolean } = {}): Promise<void> {
  const tmp = join(dirname(path), `.${Date.now()}-${process.pid}-${randomBytes(TMP_NAME_RANDOM_BYTES).toString('hex')}.tmp`)
  const fh = await open(tmp, 'wx', mode)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  if (opts.exclusive === true) {
    // link, unlike rename, fails (EEXIST) where a file is already: never over an existing one
    try {
      await link(tmp, path)
    } finally {
      await unlink(tmp)
    }
  } else {
    await rename(tmp, path)
  }
  const dh = await open(dirname(path), 'r')
  try {
    await dh.sync()
  } finally {
    await dh.close()
  }
}

/**
 * Reads a secret file, refusing one that others can read (as ssh does with private keys). The
 * mode is checked on the opened file, so the bytes read are those of the file that was checked.
 */
export async function readPrivateFile (path: string): Promise<Uint8Array | undefined> {
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    const mode = (await fh.stat()).mode
    if ((mode & SHARED_BITS) !== 0) {
      throw new DataDirError(`${path} is readable by other users (mode ${(mode & PERMISSION_BITS).toString(8)}); run: chmod 600 ${path}`)
    }
    return new Uint8Array(await fh.readFile())
  } finally {
    await fh.close()
  }
}

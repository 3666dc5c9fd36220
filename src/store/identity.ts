import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { join } from 'node:path'
import { DataDirError } from './errors.js'
import { ensurePrivateDir, readPrivateFile, writeFileAtomic } from './files.js'
import type { PrivateKey } from '@libp2p/interface'

export const IDENTITY_FILE = 'identity.key'

/**
 * The peer's Ed25519 identity: created once in the data directory (mode 0600) and reused on
 * every restart, so the PeerId never changes for the life of the directory. The directory is
 * made private here too, not only by Store.open, so that no caller can put the key in a
 * directory other users can list.
 */
export async function loadOrCreateIdentity (dataDir: string): Promise<PrivateKey> {
  await ensurePrivateDir(dataDir)
  const path = join(dataDir, IDENTITY_FILE)
  const existing = await readPrivateFile(path)
  if (existing !== undefined) {
    try {
      const key = privateKeyFromProtobuf(existing)
      if (key.type !== 'Ed25519') throw new Error(`key type ${key.type}`)
      return key
    } catch (err) {
      throw new DataDirError(`${path} is not an Ed25519 identity key: ${(err as Error).message}`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  await writeFileAtomic(path, privateKeyToProtobuf(key), 0o600)
  return key
}

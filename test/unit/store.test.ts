import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DataDirError } from '../../src/store/errors.js'
import { readPrivateFile, writeFileAtomic } from '../../src/store/files.js'
import { IDENTITY_FILE, loadOrCreateIdentity } from '../../src/store/identity.js'
import { Store } from '../../src/store/store.js'

let dir: string
const open: Store[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpcw-unit-store-'))
})

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map(async s => { await s.close() }))
  await rm(dir, { recursive: true, force: true })
})

async function openStore (path = dir): Promise<Store> {
  const store = await Store.open(path)
  open.push(store)
  return store
}

async function reopen (store: Store): Promise<Store> {
  open.splice(open.indexOf(store), 1)
  await store.close()
  return await openStore()
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8')
const bytesOf = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'))

describe('Store', () => {
  it('creates the data directory private to its owner', async () => {
    const nested = join(dir, 'a', 'data')
    await openStore(nested)
    expect((await stat(nested)).mode & 0o777).toBe(0o700)
  })

  it('tightens an existing data directory that others can read to 0700 at every open', async () => {
    const existing = join(dir, 'loose')
    await mkdir(existing, { mode: 0o755 })
    await chmod(existing, 0o755)
    const store = await openStore(existing)
    expect((await stat(existing)).mode & 0o777).toBe(0o700)
    await store.close()
    open.splice(open.indexOf(store), 1)
    await chmod(existing, 0o750)
    await openStore(existing)
    expect((await stat(existing)).mode & 0o777).toBe(0o700)
  })

  it('returns undefined for records never written', async () => {
    const store = await openStore()
    expect(await store.getJson('missing')).toBeUndefined()
    expect(await store.getBytes('missing')).toBeUndefined()
    expect(await store.listEvents()).toEqual([])
  })

  it('keeps JSON and byte records across close and reopen', async () => {
    let store = await openStore()
    await store.putJson('config', { clusterId: 'mpc-test', epoch: 3, tags: ['a', 'b'] })
    await store.putBytes('roster', Uint8Array.from([0, 1, 2, 255]))
    store = await reopen(store)
    expect(await store.getJson('config')).toEqual({ clusterId: 'mpc-test', epoch: 3, tags: ['a', 'b'] })
    expect(Array.from((await store.getBytes('roster')) ?? [])).toEqual([0, 1, 2, 255])
  })

  it('keeps JSON and byte records with the same name apart', async () => {
    const store = await openStore()
    await store.putJson('x', 'json')
    await store.putBytes('x', bytesOf('bytes'))
    expect(await store.getJson('x')).toBe('json')
    expect(text((await store.getBytes('x')) ?? new Uint8Array())).toBe('bytes')
  })

  it('overwrites a record on a second put', async () => {
    const store = await openStore()
    await store.putJson('epoch', 1)
    await store.putJson('epoch', 2)
    expect(await store.getJson('epoch')).toBe(2)
  })

  it('numbers appended events 1, 2, 3 and continues at 4 after reopen', async () => {
    let store = await openStore()
    const seen: number[] = []
    for (const name of ['one', 'two', 'three']) {
      const ev = await store.appendEvent(seq => { seen.push(seq); return bytesOf(`${name}:${seq}`) })
      expect(text(ev.bytes)).toBe(`${name}:${ev.seq}`)
    }
    expect(seen).toEqual([1, 2, 3])
    store = await reopen(store)
    const fourth = await store.appendEvent(seq => bytesOf(`four:${seq}`))
    expect(fourth.seq).toBe(4)
    expect((await store.listEvents()).map(e => text(e.bytes))).toEqual(['one:1', 'two:2', 'three:3', 'four:4'])
  })

  it('gives concurrent appends distinct consecutive numbers', async () => {
    const store = await openStore()
    const events = await Promise.all(Array.from({ length: 10 }, async () => await store.appendEvent(seq => bytesOf(String(seq)))))
    expect(events.map(e => e.seq).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect((await store.listEvents()).map(e => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })

  it('lists the events after a number, oldest first, at most limit', async () => {
    const store = await openStore()
    for (let i = 0; i < 12; i++) await store.appendEvent(seq => bytesOf(`e${seq}`))
    expect((await store.listEvents(0, 3)).map(e => e.seq)).toEqual([1, 2, 3])
    expect((await store.listEvents(3, 4)).map(e => e.seq)).toEqual([4, 5, 6, 7])
    // numbers past 9 sort numerically, not as text
    expect((await store.listEvents(8, 100)).map(e => e.seq)).toEqual([9, 10, 11, 12])
    expect((await store.listEvents(9, 2)).map(e => text(e.bytes))).toEqual(['e10', 'e11'])
    expect(await store.listEvents(12)).toEqual([])
    expect(await store.listEvents(100)).toEqual([])
  })

  it('keeps events apart from other records', async () => {
    const store = await openStore()
    await store.putJson('event', 'not an event')
    await store.putBytes('event:1', bytesOf('not an event either'))
    await store.appendEvent(() => bytesOf('real'))
    expect((await store.listEvents()).map(e => text(e.bytes))).toEqual(['real'])
  })

  it('stores events numbered by their origin idempotently', async () => {
    let store = await openStore()
    await store.putEvent(5, bytesOf('five'))
    await store.putEvent(5, bytesOf('five'))
    await store.putEvent(2, bytesOf('two'))
    expect((await store.listEvents()).map(e => [e.seq, text(e.bytes)])).toEqual([[2, 'two'], [5, 'five']])
    // local appends continue after the highest number seen, also after a restart
    expect((await store.appendEvent(() => bytesOf('six'))).seq).toBe(6)
    store = await reopen(store)
    expect((await store.appendEvent(() => bytesOf('seven'))).seq).toBe(7)
  })

  it.each([0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1])('refuses event number %s', async (seq) => {
    const store = await openStore()
    await expect(store.putEvent(seq, bytesOf('x'))).rejects.toThrow(DataDirError)
    expect(await store.listEvents()).toEqual([])
  })

  it('refuses a second concurrent open of the same directory with a DataDirError', async () => {
    const results = await Promise.allSettled([Store.open(dir), Store.open(dir)])
    const opened = results.filter(r => r.status === 'fulfilled').map(r => r.value)
    open.push(...opened)
    const failed = results.filter(r => r.status === 'rejected').map(r => r.reason as unknown)
    expect(opened).toHaveLength(1)
    expect(failed).toHaveLength(1)
    expect(failed[0]).toBeInstanceOf(DataDirError)
  })

  it('refuses to open a directory already held by an open store', async () => {
    await openStore()
    await expect(Store.open(dir)).rejects.toThrow(DataDirError)
  })
})

describe('loadOrCreateIdentity', () => {
  const keyPath = (): string => join(dir, IDENTITY_FILE)

  it('tightens an existing data directory that others can read to 0700 before it writes the key', async () => {
    await chmod(dir, 0o755)
    await loadOrCreateIdentity(dir)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
  })

  it('creates an Ed25519 identity key readable only by its owner', async () => {
    const key = await loadOrCreateIdentity(dir)
    expect(key.type).toBe('Ed25519')
    expect((await stat(keyPath())).mode & 0o777).toBe(0o600)
  })

  it('returns the same identity on every later call', async () => {
    const first = await loadOrCreateIdentity(dir)
    const second = await loadOrCreateIdentity(dir)
    expect(second.publicKey.equals(first.publicKey)).toBe(true)
    expect(second.raw).toEqual(first.raw)
    expect(peerIdFromPrivateKey(second).equals(peerIdFromPrivateKey(first))).toBe(true)
  })

  it('leaves no temporary files behind', async () => {
    await loadOrCreateIdentity(dir)
    expect(await readdir(dir)).toEqual([IDENTITY_FILE])
  })

  it('uses an existing key file instead of creating one', async () => {
    const key = await generateKeyPair('Ed25519')
    await writeFile(keyPath(), privateKeyToProtobuf(key), { mode: 0o600 })
    const loaded = await loadOrCreateIdentity(dir)
    expect(loaded.publicKey.equals(key.publicKey)).toBe(true)
  })

  it.each([0o644, 0o640, 0o604, 0o660])('refuses a key file with mode %o and does not replace it', async (mode) => {
    const first = await loadOrCreateIdentity(dir)
    await chmod(keyPath(), mode)
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(DataDirError)
    await chmod(keyPath(), 0o600)
    expect((await loadOrCreateIdentity(dir)).publicKey.equals(first.publicKey)).toBe(true)
  })

  it('refuses a corrupt key file', async () => {
    await writeFile(keyPath(), Uint8Array.from([0xde, 0xad, 0xbe, 0xef]), { mode: 0o600 })
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(DataDirError)
  })

  it('refuses an empty key file', async () => {
    await writeFile(keyPath(), new Uint8Array(), { mode: 0o600 })
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(DataDirError)
  })

  it('refuses a key of another type', async () => {
    await writeFile(keyPath(), privateKeyToProtobuf(await generateKeyPair('secp256k1')), { mode: 0o600 })
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(/not an Ed25519 identity key/)
  })
})

describe('private files', () => {
  it('writes atomically with the requested mode and replaces old content', async () => {
    const path = join(dir, 'secret')
    await writeFileAtomic(path, 'old')
    await writeFileAtomic(path, 'new')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(text((await readPrivateFile(path)) ?? new Uint8Array())).toBe('new')
    expect(await readdir(dir)).toEqual(['secret'])
  })

  it('writes many files into one directory at once without a temporary name colliding', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `secret-${i}`)
    await Promise.all(names.map(async (name, i) => { await writeFileAtomic(join(dir, name), String(i)) }))
    expect((await readdir(dir)).sort()).toEqual([...names].sort())
  })

  it('reads a missing private file as undefined', async () => {
    expect(await readPrivateFile(join(dir, 'absent'))).toBeUndefined()
  })
})

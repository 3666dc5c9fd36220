import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The project's root directory, found from this module whether it runs from src/ or dist/src/. */
export function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

/** The running software's version, from package.json; carried in heartbeats and joins. */
export const SOFTWARE_VERSION = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version

/** Which cluster a data directory belongs to, stored once the peer has joined or been initialised. */
export interface ClusterRecord {
  clusterId: string
  coordinator: string
}

export const CLUSTER_RECORD = 'cluster'

/** A start-up option or data directory that cannot work; the CLI prints the message alone. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Parses user-given multiaddrs, naming the flag and the bad value in the error. */
export function parseMultiaddrs (values: string[], flag: string): Multiaddr[] {
  return values.map(value => {
    try {
      return multiaddr(value)
    } catch {
      throw new ConfigError(`${flag}: "${value}" is not a multiaddr (example: /ip4/127.0.0.1/tcp/7400/p2p/12D3KooW...)`)
    }
  })
}

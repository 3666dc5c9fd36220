import { type Command, Option } from 'commander'
import { setTimeout as sleep } from 'node:timers/promises'
import { ApiClient, ApiClientError } from '../coordinator/client.js'
import { EVENT_TYPES, type EventView } from '../state/event-log.js'
import { printable } from '../terminal.js'
import { formatEvent } from './format.js'
import { type ApiFlags, clientOf, positiveInt, wholeNumber, withApiOptions } from './options.js'

const FOLLOW_POLL_MS = 1_000

type EventsFlags = ApiFlags & { node?: string, after?: number, since?: string, type?: string[], limit?: number, follow?: boolean, json?: boolean }

/** `mpc-wallet events`. */
export function registerEvents (program: Command): void {
  withApiOptions(program.command('events'))
    .description('read the persisted event log: joins, health, sessions, blame, conflicts')
    .option('--node <url>', 'read a node\'s copy of the log instead (its --http address, e.g. http://127.0.0.1:9464)')
    .option('--after <id>', 'only events after this id (resume from the last one seen)', wholeNumber('--after'))
    .option('--since <time>', 'only events at or after this time (ISO 8601, or Unix ms)')
    .addOption(new Option('--type <type...>', 'only these event types').choices(EVENT_TYPES))
    .option('--limit <n>', 'at most this many events (default 1000)', positiveInt('--limit'))
    .option('--follow', 'keep printing new events until Ctrl-C')
    .option('--json', 'one JSON object per line')
    .action(runEvents)
}

/** Prints the events asked for and, with --follow, the new ones until SIGINT/SIGTERM. */
async function runEvents (opts: EventsFlags): Promise<void> {
  const client = opts.node !== undefined ? new ApiClient(opts.node, undefined) : await clientOf(opts)
  let after = opts.after ?? 0
  const printNext = async (): Promise<void> => {
    const events: EventView[] = await client.events({ after, limit: opts.limit, since: opts.since, types: opts.type })
    for (const e of events) {
      console.log(opts.json === true ? JSON.stringify(e) : formatEvent(e))
      after = e.seq
    }
  }
  await printNext()
  if (opts.follow !== true) return
  await follow(printNext)
}

/** Calls `poll` every FOLLOW_POLL_MS until SIGINT/SIGTERM, riding out a coordinator that is not reachable. */
async function follow (poll: () => Promise<void>): Promise<void> {
  const stop = new AbortController()
  const onSignal = (): void => { stop.abort() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let unreachable = false
  while (!stop.signal.aborted) {
    await sleep(FOLLOW_POLL_MS, undefined, { signal: stop.signal }).catch(() => {})
    if (stop.signal.aborted) break
    try {
      await poll()
      unreachable = false
    } catch (err) {
      // A coordinator that restarts is waited for; an answer that refuses the query ends the command.
      if (!(err instanceof ApiClientError) || err.status !== undefined) throw err
      if (!unreachable) console.error(`mpc-wallet: ${printable(err.message)}; still trying`)
      unreachable = true
    }
  }
}

import type { Command } from 'commander'
import { type ApiFlags, clientOf, withApiOptions } from './options.js'

/** `mpc-wallet ui`: a one-time link to the coordinator's status page. */
export function registerUi (program: Command): void {
  withApiOptions(program.command('ui'))
    .description('print a one-time login link to the live status page (open it in a browser on this host; it works once, for two minutes)')
    .option('--json', 'print {url, expiresAtMs}')
    .action(async (opts: ApiFlags & { json?: boolean }) => {
      const link = await (await clientOf(opts)).uiLogin()
      console.log(opts.json === true ? JSON.stringify(link) : link.url)
    })
}

import { Command, CommanderError, Option } from 'commander'
import { LOG_LEVELS } from '../log.js'
import { SOFTWARE_VERSION } from '../runtime/config.js'
import { printable } from '../terminal.js'
import { registerCoordinator } from './coordinator.js'
import { registerEvents } from './events.js'
import { registerKeys } from './keys.js'
import { registerMembers } from './members.js'
import { registerNode } from './node.js'
import { registerSigners } from './signers.js'
import { registerPolicy } from './policy.js'
import { UsageError, USER_ERRORS } from './options.js'
import { registerStatus } from './status.js'
import { registerWallet } from './wallet.js'
import { registerUi } from './ui.js'

export { formatClusterTable, formatEvent, formatKey } from './format.js'

/** The whole command tree; each command group registers its own commands, in the order help lists them. */
export function buildProgram (): Command {
  const program = new Command('mpc-wallet')
    .description('Threshold-signature wallet network on libp2p: a coordinator and MPC nodes')
    .version(SOFTWARE_VERSION)
    .addOption(new Option('--log-level <level>', 'log level (logs are JSON on stderr)').choices(LOG_LEVELS).default('warn'))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  registerCoordinator(program)
  registerNode(program)
  registerStatus(program)
  registerKeys(program)
  registerWallet(program)
  registerUi(program)
  registerMembers(program)
  registerEvents(program)
  registerSigners(program)
  registerPolicy(program)
  return program
}

/** Parses argv and runs the command; every failure is one line on stderr and a non-zero exit code. */
export async function main (argv = process.argv): Promise<void> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its one-line message (or the help text).
      process.exitCode = err.exitCode === 0 ? 0 : 2
      return
    }
    // Error messages can carry text from peers (a refusal's reason, an API error body): one
    // printable line on stderr.
    if (err instanceof UsageError) {
      console.error(`mpc-wallet: ${printable(err.message)}`)
      process.exitCode = 2
      return
    }
    const known = USER_ERRORS.some(E => err instanceof E)
    const message = err instanceof Error ? err.message : String(err)
    console.error(`mpc-wallet: ${printable(known ? message : `unexpected error: ${message} (run with --log-level debug for details)`)}`)
    if (!known && program.opts<{ logLevel?: string }>().logLevel === 'debug') console.error(err)
    process.exitCode = 1
  }
}

import type { Command } from 'commander'
import { formatMembers } from './format.js'
import { type ApiFlags, clientOf, withApiOptions } from './options.js'

const MEMBER_ACTIONS = [
  ['approve', 'admit a node whose join waits for approval (coordinator start --approve-joins)'],
  ['reject', 'refuse a waiting join for good'],
  ['remove', 'take a member out of the cluster: a new roster without it, its connections closed and refused everywhere; its keys need a reshare']
] as const

/** `mpc-wallet members list|approve|reject|remove`. */
export function registerMembers (program: Command): void {
  const members = program.command('members').description('list, approve, reject and remove cluster members')

  withApiOptions(members.command('list', { isDefault: true }))
    .description('list the members and the joins waiting for approval (the default)')
    .option('--json', 'print { members, pending } as one JSON object')
    .action(async (opts: ApiFlags & { json?: boolean }) => {
      const view = await (await clientOf(opts)).members()
      if (opts.json === true) {
        console.log(JSON.stringify(view))
        return
      }
      console.log(formatMembers(view.members, view.pending))
    })

  for (const [action, description] of MEMBER_ACTIONS) {
    withApiOptions(members.command(`${action} <peerId>`))
      .description(description)
      .action(async (peerId: string, opts: ApiFlags) => {
        await (await clientOf(opts)).member(action, peerId)
        console.log(`${peerId}: ${action === 'approve' ? 'approved' : action === 'reject' ? 'rejected' : 'removed'}`)
      })
  }
}

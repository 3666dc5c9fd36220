import type { Command } from 'commander'
import { verifyClusterAudit } from '../coordinator/audit-verify.js'
import { parsePolicy, policyBytes, canonicalJson } from '../protocols/policy.js'
import { ConfigError } from '../runtime/config.js'
import { clientOf, withApiOptions, type ApiFlags } from './options.js'
import { openSigningKey, readJson } from './signers.js'

/** `mpc-wallet policy show|propose|approve|apply` and `mpc-wallet audit verify`. */
export function registerPolicy (program: Command): void {
  const policy = program.command('policy').description('the signing policy: clients, their keys, rate limits and approvals; changed only by a quorum of admins')
  withApiOptions(policy.command('show'))
    .description('print the policy in force and any proposal (JSON)')
    .action(async (opts: ApiFlags) => {
      console.log(JSON.stringify(await (await clientOf(opts)).policy(), null, 2))
    })
  withApiOptions(policy.command('propose'))
    .description('propose the next policy version from a JSON file (version, clusterId and admins, when absent, are the next version, this cluster and the current admins); admins then approve it')
    .requiredOption('--file <file>', 'the policy document (JSON)')
    .action(async (opts: ApiFlags & { file: string }) => {
      const proposed = await (await clientOf(opts)).proposePolicy(await readJson(opts.file, '--file'))
      console.log(`policy version ${proposed.version} proposed; each admin approves it with: mpc-wallet policy approve --admin-key <file> --file ${opts.file}`)
    })
  withApiOptions(policy.command('approve'))
    .description('sign the proposal with an admin key (the signature is made here; the key never leaves this machine)')
    .requiredOption('--admin-key <file>', 'the admin\'s key file')
    .option('--file <file>', 'the document you mean to approve: refused unless the proposal is exactly it')
    .option('--passphrase-file <file>', 'file holding the key file\'s passphrase (or set MPC_WALLET_KEY_PASSPHRASE)')
    .action(async (opts: ApiFlags & { adminKey: string, file?: string, passphraseFile?: string }) => {
      const api = await clientOf(opts)
      const { proposal } = await api.policy()
      if (proposal === undefined) throw new ConfigError('no policy proposal to approve (mpc-wallet policy propose --file F)')
      if (opts.file !== undefined) {
        const { version, clusterId, admins } = proposal.policy
        const mine = parsePolicy({ version, clusterId, admins, ...(await readJson(opts.file, '--file') as object) })
        if (canonicalJson(mine) !== canonicalJson(proposal.policy)) throw new ConfigError(`the proposal (version ${version}) is not the document in ${opts.file}: not approved`)
      }
      const key = await openSigningKey(opts.adminKey, '--admin-key', opts.passphraseFile)
      const view = await api.approvePolicy(key.publicKey, key.sign(policyBytes(proposal.policy)))
      const approvedBy = view.proposal?.approvedBy.length ?? 0
      console.log(`approved policy version ${proposal.policy.version} (${approvedBy} of ${view.proposal?.needed ?? '?'} needed)${approvedBy >= (view.proposal?.needed ?? Infinity) ? '; apply it with: mpc-wallet policy apply' : ''}`)
    })
  withApiOptions(policy.command('apply'))
    .description('put the approved proposal in force: every node checks the admins\' signatures itself')
    .action(async (opts: ApiFlags) => {
      const applied = await (await clientOf(opts)).applyPolicy()
      console.log(`policy version ${applied.version} in force: ${applied.clients.length} client(s)`)
    })

  const audit = program.command('audit').description('the audit chains every node keeps of its signing decisions')
  withApiOptions(audit.command('verify'))
    .description('read every member\'s chain and check links, signatures and that every signature made appears in its signers\' chains')
    .option('--json', 'print the report as JSON')
    .action(async (opts: ApiFlags & { json?: boolean }) => {
      const report = await verifyClusterAudit(await clientOf(opts))
      if (opts.json === true) console.log(JSON.stringify(report))
      else {
        for (const n of report.nodes) console.log(`${n.ok ? 'ok    ' : 'BROKEN'} ${n.node}  ${n.entries} entries${n.problem !== undefined ? `  ${n.problem}` : ''}`)
        for (const p of report.problems) console.log(`MISMATCH ${p}`)
        console.log(`${report.ok ? 'audit verified' : 'audit FAILED'}: ${report.nodes.length} chain(s), ${report.signatures} signature(s) cross-checked`)
      }
      if (!report.ok) process.exitCode = 1
    })
}

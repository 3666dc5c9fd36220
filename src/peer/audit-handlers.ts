import { fromString } from 'uint8arrays/from-string'
import { MAX_AUDIT_PER_FETCH } from '../protocols/constants.js'
import { canonicalJson } from '../protocols/policy.js'
import type { CommandContext, CommandHandlers } from '../protocols/command.js'
import type { AuditLog } from '../state/audit-log.js'

/** Bytes of entries in one fetchAudit answer: the answer stays inside COMMAND.maxBytes. */
const MAX_AUDIT_PAGE_BYTES = 56 * 1024

/** `fetchAudit`: the coordinator reads this node's audit chain a page at a time (for `GET /v1/audit` and `audit verify`). */
export function auditHandlers (audit: AuditLog, requireCoordinator: (ctx: CommandContext) => void): CommandHandlers {
  return {
    fetchAudit: async (req, ctx) => {
      requireCoordinator(ctx)
      const limit = Math.min(Math.max(req.limit, 1), MAX_AUDIT_PER_FETCH)
      const page = await audit.list(req.after, limit)
      const entries: Uint8Array[] = []
      let bytes = 0
      for (const entry of page) {
        const encoded = fromString(canonicalJson(entry))
        if (bytes + encoded.length > MAX_AUDIT_PAGE_BYTES) break
        bytes += encoded.length
        entries.push(encoded)
      }
      const last = page.at(-1)?.seq ?? req.after
      return { entries, more: entries.length < page.length || last < audit.head.seq }
    }
  }
}

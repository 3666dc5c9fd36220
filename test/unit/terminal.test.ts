import { describe, expect, it, vi } from 'vitest'
import { formatClusterTable, formatEvent, formatKey, main } from '../../src/cli/index.js'
import type { ClusterView, MemberView } from '../../src/coordinator/cluster-view.js'
import type { KeyView } from '../../src/coordinator/requests.js'
import type { EventView } from '../../src/state/event-log.js'
import { printable } from '../../src/terminal.js'

/** What a hostile member puts in its error text: clear the screen, turn red, start a new line. */
const HOSTILE = 'boom\x1b[2J\x1b[31m\nfake line\r\x07\x9b1m'
const ESC = '\x1b'
// Any C0 or C1 control character or DEL.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

const PEER = '12D3KooWJWEKvSFbben74C7H4YtKjhPMTDxd7gP7zxWSUEeF27st'

function member (over: Partial<MemberView>): MemberView {
  return { peerId: PEER, addrs: ['/ip4/127.0.0.1/tcp/4001'], state: 'up', lastHeartbeatMs: 1_000, joinedAtMs: 0, link: 'direct', reach: 'local', ...over }
}

describe('printable', () => {
  it('leaves plain text and printable Unicode as it is', () => {
    for (const text of ['', 'peer 12D3KooW… up', 'Grüße, 你好, مرحبا', 'emoji 🔑👩‍💻', 'C:\\path\\x1b is text', '~!@#$%^&*()_+{}|:"<>?']) {
      expect(printable(text)).toBe(text)
    }
  })

  it('shows C0 controls, ESC, DEL and C1 controls as \\xNN', () => {
    expect(printable('\x1b[2J\x1b[31mred')).toBe('\\x1b[2J\\x1b[31mred')
    expect(printable('a\nb\r\tc\x00\x07\x08')).toBe('a\\x0ab\\x0d\\x09c\\x00\\x07\\x08')
    expect(printable('\x7f')).toBe('\\x7f')
    expect(printable('\x80\x9b31m\x9d0;t\x9c')).toBe('\\x80\\x9b31m\\x9d0;t\\x9c')
    expect(printable('\xa0\xff')).toBe('\xa0\xff') // no-break space and ÿ are printable
  })

  it('shows line separators, bidirectional controls and lone surrogates as \\u{…}', () => {
    expect(printable('a\u2028b\u2029c')).toBe('a\\u{2028}b\\u{2029}c')
    expect(printable('user\u202egnp.exe')).toBe('user\\u{202e}gnp.exe')
    expect(printable('\u2066x\u2069\u200f\u061c')).toBe('\\u{2066}x\\u{2069}\\u{200f}\\u{61c}')
    expect(printable('\ud800 \udfff')).toBe('\\u{d800} \\u{dfff}')
  })

  it('never leaves a control character in its output', () => {
    let all = ''
    for (let c = 0; c < 0x3000; c++) all += String.fromCodePoint(c)
    const out = printable(all)
    expect(out).not.toMatch(CONTROL)
    expect(out).not.toMatch(/[\u2028\u2029\u202a-\u202e\u2066-\u2069]/)
  })
})

describe('peer-supplied text in the CLI\'s human output', () => {
  it('formatEvent prints a hostile detail as one line with its control characters escaped', () => {
    const e: EventView = { seq: 7, atMs: 0, kind: 'SESSION_FAILED', operation: 'sign', peerId: PEER, sessionId: 's\x1b]0;title\x07', detail: HOSTILE }
    const line = formatEvent(e)
    expect(line).not.toContain(ESC)
    expect(line).not.toContain('\n')
    expect(line).not.toMatch(CONTROL)
    expect(line).toContain('boom\\x1b[2J\\x1b[31m\\x0afake line\\x0d\\x07\\x9b1m')
    expect(line).toContain('session=s\\x1b]0;title\\x07')
  })

  it('formatClusterTable escapes a member\'s address and keeps one row per member, columns aligned', () => {
    const view: ClusterView = {
      clusterId: 'c1',
      epoch: 2,
      stateHash: 'ab'.repeat(32),
      coordinator: { peerId: PEER, addrs: [] },
      members: [
        member({ addrs: [`/dns4/x${HOSTILE}/tcp/1`] }),
        member({ peerId: PEER.slice(0, -1) + 'u', stateHash: `${ESC}[8m` })
      ]
    }
    const table = formatClusterTable(view, 2_000)
    expect(table).not.toContain(ESC)
    expect(table).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/) // eslint-disable-line no-control-regex
    const lines = table.split('\n')
    expect(lines).toHaveLength(4) // summary, header, two members
    expect(lines[2]).toContain('/dns4/x' + 'boom\\x1b[2J\\x1b[31m\\x0afake line')
    // The escaped text is what the widths are measured on: the last column starts at one place.
    const start = lines[1]!.indexOf('ADDRESSES')
    expect(lines[2]!.slice(start)).toMatch(/^\/dns4\/x/)
    expect(lines[3]!.slice(start)).toMatch(/^\/ip4\/127/)
  })

  it('formatKey escapes what members reported (holder ids, states)', () => {
    const key: KeyView = {
      id: 'k1', scheme: 'ed25519', threshold: 2, parties: 3, status: 'ok', groupPublicKey: 'aa', createdAtMs: 0, version: 1,
      holders: [{ peerId: `${PEER}\n${ESC}[1A${ESC}[2K`, state: 'up' }]
    }
    const text = formatKey(key)
    expect(text).not.toContain(ESC)
    expect(text.split('\n')).toHaveLength(3) // key, group public key, holders
    expect(text).toContain(`holders: ${PEER}\\x0a\\x1b[1A\\x1b[2K (up)`)
  })

  it('main prints an error whose message carries control characters as one escaped line on stderr', async () => {
    const printed: string[] = []
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => { printed.push(args.join(' ')) })
    const exitCode = process.exitCode
    try {
      await main(['node', 'mpc-wallet', 'status', '--api', 'http://127.0.0.1:9', '--api-token-file', `/nonexistent/${HOSTILE}`])
      expect(process.exitCode).toBe(1)
    } finally {
      spy.mockRestore()
      process.exitCode = exitCode
    }
    expect(printed).toHaveLength(1)
    expect(printed[0]).not.toContain(ESC)
    expect(printed[0]).not.toContain('\n')
    expect(printed[0]).toMatch(/^mpc-wallet: --api-token-file: cannot read \/nonexistent\/boom\\x1b\[2J\\x1b\[31m\\x0afake line/)
  })
})

/**
 * The status page (issue 16): one HTML document with its style, and one script, served by the
 * coordinator's API server from these strings: no build step, no framework, nothing fetched from
 * another host (the page works offline). The script opens the event stream (/v1/stream) and
 * renders each snapshot (members, keys) and the event log's tail; EventSource reconnects by
 * itself with Last-Event-ID, and the page says when it is not live.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mpc-wallet</title>
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --line: #8884; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 70rem; padding: 1rem; }
  header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: baseline; }
  h1 { font-size: 1.2rem; margin: 0; }
  h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
  #live { font-weight: 600; }
  #live.live { color: var(--ok); } #live.down { color: var(--bad); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  td.mono, span.mono { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
  .up, .ok { color: var(--ok); } .suspect, .degraded { color: var(--warn); } .down, .unavailable, .removed { color: var(--bad); }
  .scroll { overflow-x: auto; }
  @media (max-width: 40rem) { .wide { display: none; } }
</style>
</head>
<body>
<header>
  <h1>mpc-wallet</h1>
  <span id="cluster" class="mono"></span>
  <span id="live" class="down">connecting…</span>
</header>
<h2>Members</h2>
<div class="scroll"><table id="members"><thead><tr><th>PeerId</th><th>state</th><th>last heartbeat</th><th>link</th><th class="wide">reach</th><th class="wide">epoch</th><th class="wide">sync</th></tr></thead><tbody></tbody></table></div>
<h2>Keys</h2>
<div class="scroll"><table id="keys"><thead><tr><th>key</th><th>scheme</th><th>t-of-n</th><th>status</th><th class="wide">holders</th><th class="wide">address</th></tr></thead><tbody></tbody></table></div>
<h2>Events</h2>
<div class="scroll"><table id="events"><thead><tr><th>#</th><th>time</th><th>kind</th><th class="wide">detail</th></tr></thead><tbody></tbody></table></div>
<script src="/ui/app.js"></script>
</body>
</html>
`

export const APP_JS = `'use strict'
const $ = (id) => document.getElementById(id)
const MAX_EVENTS = 200
function cell (text, cls) {
  const td = document.createElement('td')
  td.textContent = text
  if (cls) td.className = cls
  return td
}
function row (cells) {
  const tr = document.createElement('tr')
  for (const c of cells) tr.appendChild(c)
  return tr
}
function ago (ms) {
  if (ms === null || ms === undefined) return 'never'
  const s = Math.max(0, (Date.now() - ms) / 1000)
  return s < 120 ? s.toFixed(1) + ' s ago' : Math.round(s / 60) + ' min ago'
}
function short (id) { return id.length > 16 ? id.slice(0, 8) + '…' + id.slice(-6) : id }
function render (snap) {
  const c = snap.cluster
  $('cluster').textContent = 'cluster ' + c.clusterId + ' · epoch ' + c.epoch
  const members = $('members').tBodies[0]
  members.replaceChildren(...c.members.map(m => {
    const tr = row([cell(short(m.peerId), 'mono'), cell(m.state, m.state), cell(ago(m.lastHeartbeatMs)), cell(m.link ?? ''), cell(m.reach ?? '', 'wide'), cell(String(m.rosterEpoch ?? ''), 'wide'), cell(m.stateHash === c.stateHash ? 'in sync' : 'behind', 'wide')])
    tr.dataset.peer = m.peerId
    tr.dataset.state = m.state
    return tr
  }))
  const keys = $('keys').tBodies[0]
  keys.replaceChildren(...snap.keys.map(k => {
    const tr = row([cell(k.id, 'mono'), cell(k.scheme), cell(k.threshold + '-of-' + k.parties), cell(k.status, k.status), cell(k.holders.map(h => short(h.peerId) + ' ' + h.state).join(', '), 'wide'), cell(k.address ?? '', 'mono wide')])
    tr.dataset.key = k.id
    return tr
  }))
}
function describe (e) {
  const parts = []
  if (e.peerId) parts.push(short(e.peerId))
  if (e.from || e.to) parts.push((e.from ?? '?') + ' → ' + (e.to ?? '?'))
  if (e.operation) parts.push(e.operation)
  if (e.keyId) parts.push(e.keyId)
  if (e.culprits && e.culprits.length > 0) parts.push('culprits: ' + e.culprits.map(short).join(', '))
  if (e.detail) parts.push(e.detail)
  return parts.join(' · ')
}
function addEvent (e) {
  const body = $('events').tBodies[0]
  body.insertBefore(row([cell(String(e.seq)), cell(new Date(e.atMs).toLocaleTimeString()), cell(e.kind), cell(describe(e), 'wide')]), body.firstChild)
  while (body.rows.length > MAX_EVENTS) body.deleteRow(-1)
}
function connect () {
  const source = new EventSource('/v1/stream')
  source.addEventListener('open', () => { $('live').textContent = 'live'; $('live').className = 'live' })
  source.addEventListener('snapshot', (m) => { render(JSON.parse(m.data)) })
  source.addEventListener('event', (m) => { addEvent(JSON.parse(m.data)) })
  source.addEventListener('bye', () => { $('live').textContent = 'the coordinator stopped; reconnecting…'; $('live').className = 'down' })
  source.addEventListener('error', () => { $('live').textContent = 'not live; reconnecting…'; $('live').className = 'down' })
}
connect()
`

export const LOGIN_NEEDED_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mpc-wallet: log in</title></head>
<body style="font: 14px system-ui, sans-serif; margin: 2rem"><h1 style="font-size: 1.2rem">Not logged in</h1>
<p>Run <code>mpc-wallet ui</code> on the coordinator's host and open the link it prints (it works once, for two minutes).</p></body></html>
`

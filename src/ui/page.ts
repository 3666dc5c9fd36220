/**
 * The status page (issue 16): one HTML document with its style, and one script, served by the
 * coordinator's API server from these strings: no build step, no framework, nothing fetched from
 * another host (the page works offline). The script opens the event stream (/v1/stream) and
 * renders each snapshot (members, keys) and the event log's tail (the stream starts with the
 * newest 200 events); EventSource reconnects by
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
  svg { width: 100%; height: 10rem; border: 1px solid var(--line); }
  polyline { fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; }
  .sign { color: #0969da; } .keygen { color: #8250df; }
  polyline.sign { stroke: #0969da; } polyline.keygen { stroke: #8250df; } polyline.p95 { stroke-dasharray: 4 3; }
  .legend { font-size: 12px; margin: .25rem 0 0; }
</style>
</head>
<body>
<header>
  <h1>mpc-wallet</h1>
  <span id="cluster" class="mono"></span>
  <span id="policy"></span>
  <span id="live" class="down">connecting…</span>
</header>
<h2>Members</h2>
<div class="scroll"><table id="members"><thead><tr><th>PeerId</th><th>state</th><th>last heartbeat</th><th>link</th><th class="wide">reach</th><th class="wide">epoch</th><th class="wide">sync</th></tr></thead><tbody></tbody></table></div>
<h2>Keys</h2>
<div class="scroll"><table id="keys"><thead><tr><th>key</th><th>scheme</th><th>t-of-n</th><th>status</th><th class="wide">holders</th><th class="wide">address</th></tr></thead><tbody></tbody></table></div>
<h2>Latency, last 5 minutes</h2>
<p id="latency-now"></p>
<svg id="chart" viewBox="0 0 600 160" preserveAspectRatio="none" role="img" aria-label="sign and keygen latency, p50 and p95"></svg>
<p class="legend"><span class="sign">━ sign p50</span> <span class="sign">┅ sign p95</span> <span class="keygen">━ keygen p50</span> <span class="keygen">┅ keygen p95</span></p>
<h2>Sessions</h2>
<div class="scroll"><table id="sessions"><thead><tr><th>time</th><th>operation</th><th>key</th><th>outcome</th><th>attempts</th><th class="wide">culprits / reason</th></tr></thead><tbody></tbody></table></div>
<h2>Policy refusals</h2>
<div class="scroll"><table id="refusals"><thead><tr><th>time</th><th>key</th><th>by</th><th class="wide">rule and reason</th></tr></thead><tbody></tbody></table></div>
<h2>Events <select id="filter" aria-label="show events of"><option value="">all</option><option value="HEALTH">health</option><option value="SESSION">sessions</option><option value="BLAME">blame</option><option value="POLICY">policy</option><option value="MEMBER">members</option><option value="INVITATION">invitations</option></select></h2>
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
const MAX_POINTS = 150
const series = []
function chart () {
  const svg = $('chart')
  const values = series.flatMap(p => [p.sign.p95Ms, p.keygen.p95Ms, p.sign.p50Ms, p.keygen.p50Ms]).filter(v => v !== null)
  const top = Math.max(10, ...values) * 1.1
  const line = (op, q) => {
    const pts = series.map((p, i) => p[op][q] === null ? null : (i * 600 / Math.max(1, MAX_POINTS - 1)).toFixed(1) + ',' + (160 - p[op][q] * 160 / top).toFixed(1)).filter(x => x !== null)
    const el = document.createElementNS('http://www.w3.org/2000/svg', 'polyline')
    el.setAttribute('points', pts.join(' '))
    el.setAttribute('class', op + (q === 'p95Ms' ? ' p95' : ''))
    return el
  }
  svg.replaceChildren(line('sign', 'p50Ms'), line('sign', 'p95Ms'), line('keygen', 'p50Ms'), line('keygen', 'p95Ms'))
}
function figure (name, l) { return name + ': ' + (l.count === 0 ? 'none' : 'p50 ' + l.p50Ms + ' ms, p95 ' + l.p95Ms + ' ms (' + l.count + ')') }
function render (snap) {
  const c = snap.cluster
  $('cluster').textContent = 'cluster ' + c.clusterId + ' · epoch ' + c.epoch
  $('policy').textContent = snap.policyVersion > 0 ? 'policy version ' + snap.policyVersion : 'no policy in force'
  $('latency-now').textContent = figure('sign', snap.latency.sign) + ' · ' + figure('keygen', snap.latency.keygen) + '; the chart adds a point every 2 s'
  series.push(snap.latency)
  if (series.length > MAX_POINTS) series.shift()
  chart()
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
function prepend (table, tr, max) {
  const body = $(table).tBodies[0]
  body.insertBefore(tr, body.firstChild)
  while (body.rows.length > max) body.deleteRow(-1)
}
const sessions = new Map()
function session (e) {
  if (!e.sessionId) return
  let s = sessions.get(e.sessionId)
  if (s === undefined) {
    s = { tr: document.createElement('tr'), attempts: 0, outcome: 'running', culprits: '' }
    sessions.set(e.sessionId, s)
    if (sessions.size > MAX_EVENTS) sessions.delete(sessions.keys().next().value)
    prepend('sessions', s.tr, 50)
  }
  s.at = s.at ?? e.atMs
  s.operation = e.operation ?? s.operation ?? ''
  s.key = e.keyId ?? s.key ?? ''
  if (e.kind === 'SESSION_STARTED') s.attempts = Math.max(s.attempts, Number((/attempt (\\d+)/.exec(e.detail ?? '') ?? [0, 1])[1]))
  if (e.kind === 'SESSION_FINISHED') s.outcome = 'ok'
  if (e.kind === 'SESSION_FAILED') { s.outcome = 'failed'; s.culprits = [(e.culprits ?? []).map(short).join(', '), e.detail ?? ''].filter(x => x).join(' · ') }
  if (e.kind === 'BLAME') s.culprits = short(e.peerId ?? '') + ' blamed · ' + (e.detail ?? '')
  s.tr.replaceChildren(cell(new Date(s.at).toLocaleTimeString()), cell(s.operation), cell(s.key, 'mono'), cell(s.outcome, s.outcome === 'ok' ? 'ok' : s.outcome === 'failed' ? 'down' : ''), cell(String(s.attempts || 1)), cell(s.culprits, 'wide'))
  s.tr.dataset.outcome = s.outcome
}
function shown (e) {
  const f = $('filter').value
  return f === '' || e.kind.startsWith(f)
}
function addEvent (e) {
  const tr = row([cell(String(e.seq)), cell(new Date(e.atMs).toLocaleTimeString()), cell(e.kind), cell(describe(e), 'wide')])
  tr.dataset.kind = e.kind
  tr.hidden = !shown(e)
  prepend('events', tr, MAX_EVENTS)
  if (e.kind.startsWith('SESSION_') || e.kind === 'BLAME') session(e)
  if (e.kind === 'POLICY_DENIED') prepend('refusals', row([cell(new Date(e.atMs).toLocaleTimeString()), cell(e.keyId ?? '', 'mono'), cell(e.peerId ? short(e.peerId) : 'coordinator'), cell(e.detail ?? '', 'wide')]), 50)
}
$('filter').addEventListener('change', () => {
  for (const tr of $('events').tBodies[0].rows) tr.hidden = !shown({ kind: tr.dataset.kind })
})
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

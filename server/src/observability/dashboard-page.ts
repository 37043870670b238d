/**
 * The dashboard page: one self-contained HTML document (inline CSS and script, no external
 * requests; its Content-Security-Policy forbids any) that polls GET /v1/admin/cluster and
 * GET /v1/admin/stats on the node that served it, once a second, and redraws.
 *
 * The script builds every element with textContent, never innerHTML, so names coming from the
 * cluster cannot inject markup. Rows carry data-* attributes (data-member, data-alive,
 * data-partition, data-owner; ownership rows data-partitions, data-changes, data-steady, their table
 * data-changes-listed; ring
 * labels data-partition-label; the failure-domain summary #spread data-warning) that tests and scripts can read without parsing text.
 *
 * Ownership changes are listed as transitions (ownership-history.ts): one row per way a
 * partition went from one steady state to the next, shared by the partitions that went the same
 * way at once, so one election or one node's death is one row rather than a screenful of
 * similar ones.
 *
 * The admin token: outside dev mode every data request needs `Authorization: Bearer <token>`.
 * The script takes the token from the URL fragment (`/dashboard#token=...`: a fragment never
 * reaches the server, a proxy or its access log), removes it from the address bar at once, and
 * keeps it in sessionStorage (gone when the tab closes). Without one, or when the node refuses
 * it, the page shows a password field for it.
 */

const STYLE = `
:root { --bg:#0f1419; --panel:#182028; --text:#d8dee6; --muted:#8a97a6; --ok:#3fb950; --bad:#f85149; --warn:#d29922; --line:#2a3440; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; gap:24px; align-items:baseline; padding:12px 20px; border-bottom:1px solid var(--line); flex-wrap:wrap; }
header h1 { font-size:18px; margin:0; }
.muted { color:var(--muted); }
#status.live { color:var(--ok); } #status.stale { color:var(--bad); }
main { padding:16px 20px; display:grid; gap:16px; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
section { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:12px 14px; overflow:auto; min-width:0; }
section.wide { grid-column: 1 / -1; }
h2 { font-size:13px; text-transform:uppercase; letter-spacing:.05em; color:var(--muted); margin:0 0 8px; }
h2 .muted { text-transform:none; letter-spacing:0; font-weight:400; }
.cards { display:flex; gap:12px; flex-wrap:wrap; }
.card { min-width:130px; padding:8px 12px; border:1px solid var(--line); border-radius:6px; }
.card .value { font-size:22px; font-variant-numeric:tabular-nums; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:3px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
th { color:var(--muted); font-weight:500; }
/* Long names and addresses (a Kubernetes pod's DNS name) wrap instead of pushing the last
   columns out of the panel; numbers never wrap. */
td.wrap { white-space:normal; overflow-wrap:anywhere; }
.up { color:var(--ok); } .down { color:var(--bad); } .lagging { color:var(--warn); }
#token-form { display:flex; gap:8px; align-items:center; }
#token-form[hidden] { display:none; }
#token-form input { background:var(--bg); color:var(--text); border:1px solid var(--line); border-radius:4px; padding:3px 6px; }
.swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:6px; vertical-align:middle; }
#ring-wrap { display:flex; gap:16px; align-items:center; }
/* flex:none keeps the ring at its own size: shrunk by a long summary, its labels became too
   small to read. Labels are at least 12 CSS px (the browser test checks 11). */
#ring { flex:none; }
#ring text { font-size:12px; fill:var(--muted); }
#ring text.ring-center { font-size:14px; fill:var(--text); }
#partitions-wrap, #ownership-wrap { max-height:420px; overflow:auto; }
`;

const SCRIPT = `
'use strict';
var POLL_MS = 1000;
var TOKEN_KEY = 'ringstate-admin-token';
var adminToken = takeFragmentToken() || storedToken();
function takeFragmentToken() {
  var match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return '';
  history.replaceState(null, '', location.pathname + location.search);
  var token = decodeURIComponent(match[1]);
  keepToken(token);
  return token;
}
function storedToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (error) { return ''; }
}
function keepToken(token) {
  try { sessionStorage.setItem(TOKEN_KEY, token); } catch (error) { /* memory only */ }
}
function askForToken(show) {
  document.getElementById('token-form').hidden = !show;
}
var PALETTE = ['#58a6ff', '#3fb950', '#d29922', '#bc8cff', '#ff7b72', '#39c5cf', '#f0883e', '#a5d6ff'];
var colors = {};
function colorOf(nodeId) {
  if (nodeId === null || nodeId === undefined || nodeId === '') return '#3a4654';
  if (!(nodeId in colors)) colors[nodeId] = PALETTE[Object.keys(colors).length % PALETTE.length];
  return colors[nodeId];
}
function el(tag, attrs, children) {
  var node = document.createElement(tag);
  for (var key in attrs || {}) {
    if (key === 'text') node.textContent = attrs[key];
    else if (key === 'class') node.className = attrs[key];
    else node.setAttribute(key, attrs[key]);
  }
  (children || []).forEach(function (child) { node.appendChild(child); });
  return node;
}
function td(text, cls) { return el('td', cls ? { text: String(text), class: cls } : { text: String(text) }); }
function fill(tbody, rows) { tbody.replaceChildren.apply(tbody, rows); }
function setText(id, text) { document.getElementById(id).textContent = text; }
function stat(name, text) { document.querySelector('[data-stat="' + name + '"] .value').textContent = text; }
function fixed(value, digits) { return value === null || value === undefined ? '-' : Number(value).toFixed(digits); }

function renderMembers(view) {
  var owned = {}, held = {};
  view.partitions.forEach(function (row) {
    if (row.owner) owned[row.owner] = (owned[row.owner] || 0) + 1;
    row.replicas.forEach(function (id) { held[id] = (held[id] || 0) + 1; });
  });
  fill(document.querySelector('#members tbody'), view.members.map(function (member) {
    var name = el('td', { class: 'wrap' }, [el('span', { class: 'swatch', style: 'background:' + colorOf(member.nodeId) }), document.createTextNode(member.nodeId + (member.self ? ' (this node)' : ''))]);
    var inRing = !view.ring || view.ring.members.indexOf(member.nodeId) >= 0;
    var health = member.alive ? (inRing ? 'up' : 'up, not in the ring') : 'down';
    return el('tr', { 'data-member': member.nodeId, 'data-alive': String(member.alive) }, [
      name, td(member.address, 'wrap'), locality(member), td(health, member.alive ? 'up' : 'down'), td(owned[member.nodeId] || 0), td(held[member.nodeId] || 0),
    ]);
  }));
}

// Zone over host in one cell: two columns of long cloud names squeezed the node names.
function locality(member) {
  if (!member.zone && !member.host) return td('-');
  return el('td', { class: 'wrap', 'data-zone': member.zone || '', 'data-host': member.host || '' }, [el('div', { text: member.zone || 'zone unknown' }), el('div', { class: 'muted', text: member.host || '' })]);
}

function renderRing(view) {
  var svg = document.getElementById('ring');
  var n = view.partitions.length, cx = 140, cy = 140, outer = 100, inner = 62, labelAt = 118;
  var paths = view.partitions.map(function (row, i) {
    var a0 = (i / n) * 2 * Math.PI - Math.PI / 2, a1 = ((i + 1) / n) * 2 * Math.PI - Math.PI / 2;
    var large = a1 - a0 > Math.PI ? 1 : 0;
    var p = function (r, a) { return (cx + r * Math.cos(a)).toFixed(2) + ' ' + (cy + r * Math.sin(a)).toFixed(2); };
    var d = 'M ' + p(outer, a0) + ' A ' + outer + ' ' + outer + ' 0 ' + large + ' 1 ' + p(outer, a1) + ' L ' + p(inner, a1) + ' A ' + inner + ' ' + inner + ' 0 ' + large + ' 0 ' + p(inner, a0) + ' Z';
    var path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', colorOf(row.owner));
    path.setAttribute('stroke', '#0f1419');
    path.setAttribute('data-partition', String(row.partition));
    path.setAttribute('data-owner', row.owner || '');
    var title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    title.textContent = 'partition ' + row.partition + ': owner ' + (row.owner || 'none') + ', preferred ' + row.replicas[0] + ', epoch ' + row.epoch;
    path.appendChild(title);
    return path;
  });
  var label = svgText(cx, cy, n + ' partitions');
  label.setAttribute('class', 'ring-center');
  svg.replaceChildren.apply(svg, paths.concat(partitionLabels(n, cx, cy, labelAt), [label]));
  var unowned = view.partitions.filter(function (row) { return !row.owner; }).length;
  var ring = view.ring || { generation: 0, members: [] };
  setText('ring-summary', 'ring version ' + view.ringVersion + ' (generation ' + ring.generation + ': ' + ring.members.join(', ') + ')' +
    (view.leaving ? ', this node is leaving' : '') + ', ' + unowned + ' partitions without an owner');
  renderSpread(view);
}

// Failure domains: the members' distinct zones and hosts, the warning when they are fewer than
// copies, and how many partitions' current voters are not spread as the ring wants yet.
function renderSpread(view) {
  var box = document.getElementById('spread');
  var spread = view.spread;
  if (!spread) { box.textContent = ''; box.removeAttribute('data-warning'); return; }
  var unspread = view.partitions.filter(function (row) { return row.votersSpread === false; }).length;
  var text = spread.zones + ' zone' + (spread.zones === 1 ? '' : 's') + ', ' + spread.hosts + ' host' + (spread.hosts === 1 ? '' : 's') +
    ' for ' + spread.replicationFactor + ' copies' + (unspread > 0 ? '; ' + unspread + ' partitions with voters not spread yet' : '');
  box.replaceChildren(el('div', { text: text }), spread.warning ? el('div', { class: 'lagging', text: 'warning: ' + spread.warning }) : el('span', {}));
  box.setAttribute('data-warning', spread.warning ? 'true' : 'false');
}

function svgText(x, y, text) {
  var node = document.createElementNS('http://www.w3.org/2000/svg', 'text');
  node.setAttribute('x', x.toFixed(1)); node.setAttribute('y', y.toFixed(1));
  node.setAttribute('text-anchor', 'middle'); node.setAttribute('dominant-baseline', 'central');
  node.textContent = text;
  return node;
}
// Partition numbers outside the ring, at the middle of their segment. With many partitions only
// every step-th is labelled, so neighbours stay apart: LABEL_GAP_PX of arc per label is room for
// a three-digit number at 12 px; the last labels are left out when they would crowd partition 0.
var LABEL_GAP_PX = 30;
function partitionLabels(n, cx, cy, radius) {
  if (n === 0) return [];
  var step = Math.max(1, Math.ceil(LABEL_GAP_PX / (2 * Math.PI * radius / n)));
  var labels = [];
  for (var i = 0; i < n; i += step) {
    if (i > 0 && n - i < step) break;
    var a = ((i + 0.5) / n) * 2 * Math.PI - Math.PI / 2;
    var text = svgText(cx + radius * Math.cos(a), cy + radius * Math.sin(a), String(i));
    text.setAttribute('data-partition-label', String(i));
    labels.push(text);
  }
  return labels;
}

function renderPartitions(view) {
  fill(document.querySelector('#partitions tbody'), view.partitions.map(function (row) {
    return el('tr', { 'data-partition': String(row.partition), 'data-owner': row.owner || '' }, [
      td(row.partition), td(row.owner || 'none', row.owner ? '' : 'down'), td(row.replicas.join(', ') + (row.votersSpread === false ? ' (voters not spread)' : ''), row.votersSpread === false ? 'lagging' : ''), td(row.epoch), td(row.role),
      td(row.commit), td(row.applied), td(row.lag, row.lag > 0 ? 'lagging' : ''), td(row.role === 'owner' ? (row.ready ? 'yes' : 'not yet') : '-'),
    ]);
  }));
}

function renderStats(stats, view) {
  var c = stats.commands;
  stat('connections', String(stats.connections));
  stat('subscriptions', String(stats.subscriptions));
  stat('commandsPerSecond', fixed(c.commandsPerSecond, 1));
  stat('p99', c.p99Ms === null ? '-' : (c.p99AboveMax ? '> ' : '') + fixed(c.p99Ms, c.p99Ms < 1 ? 1 : 0) + ' ms');
  stat('activeAggregates', String(stats.activeAggregates));
  stat('partitionsOwned', String(view.partitions.filter(function (row) { return row.owner === view.nodeId; }).length));
  setText('uptime', 'up ' + stats.uptimeSeconds + ' s');
  var changes = stats.ownershipChanges;
  fill(document.querySelector('#ownership tbody'), changes.transitions.map(function (row) {
    var role = row.role === 'owner' && !row.ready ? 'owner, not ready' : row.role;
    var steps = row.steps.join(' → ') + (row.steady ? '' : ' (under way)');
    return el('tr', { 'data-partitions': row.partitions.join(','), 'data-owner': row.owner || '', 'data-changes': String(row.changeCount), 'data-steady': String(row.steady) }, [
      td(new Date(row.lastAtMs).toLocaleTimeString()), td(partitionList(row.partitions), 'wrap'), td(row.epochMin === row.epochMax ? row.epochMin : row.epochMin + '\u2013' + row.epochMax), td(row.owner || 'none', row.owner ? '' : 'down'), td(role),
      td(steps, row.steady ? 'wrap' : 'wrap lagging'), td(row.lastAtMs - row.firstAtMs + ' ms'),
    ]);
  }));
  document.getElementById('ownership').setAttribute('data-changes-listed', String(changes.recent.length));
  setText('ownership-count', changes.recordedCount + ' changes since start' + (changes.recent.length < changes.recordedCount ? ', the last ' + changes.recent.length : '') + ' in ' + changes.transitions.length + ' rows');
  var trips = Object.keys(stats.limitTrips).sort();
  fill(document.querySelector('#limits tbody'), trips.map(function (name) { return el('tr', { 'data-limit': name }, [td(name), td(stats.limitTrips[name])]); }));
}

// 0, 1, 2, 3, 5, 7, 8 -> "0-3, 5, 7-8" (en dashes)
function partitionList(partitions) {
  var parts = [];
  for (var i = 0; i < partitions.length; i += 1) {
    var start = partitions[i];
    while (i + 1 < partitions.length && partitions[i + 1] === partitions[i] + 1) i += 1;
    parts.push(start === partitions[i] ? String(start) : start + '\u2013' + partitions[i]);
  }
  return parts.join(', ');
}

function getJson(path) {
  var headers = adminToken ? { authorization: 'Bearer ' + adminToken } : {};
  return fetch(path, { cache: 'no-store', credentials: 'same-origin', headers: headers }).then(function (response) {
    if (response.status === 401 || response.status === 403) askForToken(true);
    if (!response.ok) throw new Error(path + ': HTTP ' + response.status + (response.status === 403 ? ' (admin token needed)' : ''));
    return response.json();
  });
}
document.getElementById('token-form').addEventListener('submit', function (event) {
  event.preventDefault();
  var input = document.getElementById('token-input');
  adminToken = input.value.trim();
  input.value = '';
  keepToken(adminToken);
  askForToken(false);
});

function poll() {
  Promise.all([getJson('/v1/admin/cluster'), getJson('/v1/admin/stats')]).then(function (answers) {
    var view = answers[0], stats = answers[1];
    askForToken(false);
    renderMembers(view); renderRing(view); renderPartitions(view); renderStats(stats, view);
    setText('ring-version', String(view.ringVersion));
    var status = document.getElementById('status');
    status.textContent = 'live'; status.className = 'live';
    setText('updated', 'updated ' + new Date().toLocaleTimeString());
    document.body.setAttribute('data-updates', String(Number(document.body.getAttribute('data-updates') || '0') + 1));
  }).catch(function (error) {
    var status = document.getElementById('status');
    status.textContent = 'stale: ' + error.message; status.className = 'stale';
  }).then(function () { setTimeout(poll, POLL_MS); });
}
poll();
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function card(name: string, label: string): string {
  return `<div class="card" data-stat="${name}"><div class="muted">${label}</div><div class="value">-</div></div>`;
}

/** The whole page; rendered once per node, it holds no data (the script fetches it). */
export function renderDashboardPage(options: { nodeId: string }): string {
  const nodeId = escapeHtml(options.nodeId);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:">
<title>ringstate · ${nodeId}</title>
<style>${STYLE}</style>
</head>
<body data-updates="0">
<header>
  <h1>ringstate</h1>
  <span>node <strong id="node-id">${nodeId}</strong></span>
  <span class="muted">ring version <span id="ring-version">-</span></span>
  <span id="status" class="stale">connecting</span>
  <span class="muted" id="updated"></span>
  <span class="muted" id="uptime"></span>
  <form id="token-form" hidden><label for="token-input" class="muted">admin token</label><input id="token-input" type="password" autocomplete="off" spellcheck="false"><button type="submit">open</button></form>
</header>
<main>
  <section class="wide">
    <h2>This node</h2>
    <div class="cards">
      ${card('connections', 'connected clients')}
      ${card('subscriptions', 'subscriptions')}
      ${card('commandsPerSecond', 'commands/s (5 s)')}
      ${card('p99', 'command p99 (5 s)')}
      ${card('activeAggregates', 'aggregates in memory')}
      ${card('partitionsOwned', 'partitions owned')}
    </div>
  </section>
  <section>
    <h2>Members</h2>
    <table id="members"><thead><tr><th>node</th><th>peer address</th><th>zone / host</th><th>health</th><th>owns</th><th>replica of</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Ring</h2>
    <div id="ring-wrap"><svg id="ring" width="280" height="280" viewBox="0 0 280 280" role="img" aria-label="partition owners around the ring"></svg>
    <div><div class="muted" id="ring-summary"></div><div class="muted" id="spread"></div></div></div>
  </section>
  <section class="wide">
    <h2>Partitions</h2>
    <div id="partitions-wrap">
    <table id="partitions"><thead><tr><th>partition</th><th>owner</th><th>replicas (ring order)</th><th>epoch</th><th>role here</th><th>commit</th><th>applied</th><th>lag</th><th>serving here</th></tr></thead><tbody></tbody></table>
    </div>
  </section>
  <section class="wide">
    <h2>Ownership changes <span class="muted" id="ownership-count"></span></h2>
    <div id="ownership-wrap">
    <table id="ownership"><thead><tr><th>time</th><th>partitions</th><th>epochs</th><th>owner</th><th>role here</th><th>steps</th><th>took</th></tr></thead><tbody></tbody></table>
    </div>
  </section>
  <section>
    <h2>Limit trips</h2>
    <table id="limits"><thead><tr><th>limit</th><th>refusals</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

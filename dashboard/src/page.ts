// The dashboard's single page: HTML shell, styles and the browser script.
// Charts are uPlot (served from node_modules at /static/uplot.*), so the page works offline.

/** The HTML shell served at `/`. */
export function pageHtml(title: string): string {
  const t = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t}</title>
<link rel="stylesheet" href="/static/uplot.css">
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<header><h1>${t}</h1><span id="conn" class="conn off">connecting…</span><span id="head"></span><a href="/metrics">/metrics</a></header>
<main>
<section id="cluster-view"><h2>Cluster <small id="node-summary"></small></h2><div id="nodes" class="cards"></div></section>
<section id="actors-view"><h2>Actors <small id="actor-summary"></small></h2>
<table id="actors"><thead><tr><th>name</th><th>class</th><th>state</th><th>node</th><th>GPUs</th><th>restarts</th><th>reason</th><th>last log line</th></tr></thead><tbody></tbody></table>
<div id="logs" hidden><h3>Log of <span id="log-actor"></span> <button id="log-close" type="button">close</button></h3><pre id="log-lines"></pre></div>
</section>
<section id="pgs-view"><h2>Placement groups</h2>
<table id="pgs"><thead><tr><th>name</th><th>strategy</th><th>state</th><th>bundles</th><th>nodes</th></tr></thead><tbody></tbody></table>
<div id="pending"></div></section>
<section id="training-view"><h2>Training <select id="run"></select> <small id="train-summary">no training metrics yet</small></h2><div id="charts" class="charts"></div></section>
</main>
<script src="/static/uplot.js"></script>
<script src="/static/app.js"></script>
</body>
</html>
`;
}

/** Styles served at `/static/app.css` (plain; dark text on light; honours prefers-color-scheme). */
export const PAGE_CSS = `
:root { --fg:#1d2330; --muted:#687083; --bg:#f6f7f9; --card:#fff; --line:#dde1e8; --ok:#1a7f37; --bad:#c0392b; --warn:#b7791f; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6e9ef; --muted:#9aa3b5; --bg:#161a22; --card:#1f2430; --line:#323949; } }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; gap:16px; align-items:baseline; padding:10px 20px; background:var(--card); border-bottom:1px solid var(--line); }
header h1 { font-size:18px; margin:0; }
header a { margin-left:auto; color:var(--muted); }
.conn { font-size:12px; padding:1px 8px; border-radius:10px; color:#fff; background:var(--bad); }
.conn.on { background:var(--ok); }
main { padding:10px 20px; }
h2 { font-size:16px; margin:18px 0 8px; } h2 small { color:var(--muted); font-weight:normal; }
.cards { display:flex; flex-wrap:wrap; gap:12px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:10px 12px; min-width:260px; }
.card.dead { opacity:.55; }
.card h3 { margin:0 0 6px; font-size:14px; } .card .sub { color:var(--muted); font-size:12px; }
.res { display:grid; grid-template-columns:70px 1fr 90px; gap:4px 8px; align-items:center; font-size:12px; margin:6px 0; }
.bar { height:8px; background:var(--line); border-radius:4px; overflow:hidden; } .bar i { display:block; height:100%; background:#4a7bd1; }
.gpus { display:flex; flex-wrap:wrap; gap:6px; margin-top:6px; }
.gpu { border:1px solid var(--line); border-radius:4px; padding:3px 6px; font-size:12px; min-width:70px; }
.gpu.busy { border-color:#4a7bd1; background:rgba(74,123,209,.12); }
table { border-collapse:collapse; background:var(--card); border:1px solid var(--line); min-width:60%; }
th, td { text-align:left; padding:4px 10px; border-bottom:1px solid var(--line); font-size:13px; }
tbody tr { cursor:pointer; } tbody tr:hover { background:rgba(74,123,209,.08); }
.ALIVE, .created, .alive { color:var(--ok); } .DEAD, .dead, .removed { color:var(--bad); } .PENDING, .RESTARTING, .pending, .left { color:var(--warn); }
pre#log-lines { background:#10131a; color:#d6dbe6; padding:8px; max-height:320px; overflow:auto; font-size:12px; }
.charts { display:grid; grid-template-columns:repeat(auto-fill, minmax(480px, 1fr)); gap:12px; }
.chart { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:6px; }
.chart h3 { margin:0 0 4px; font-size:13px; }
td.last-log { font-family:ui-monospace, monospace; font-size:12px; color:var(--muted); max-width:420px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
`;

/** Browser script served at `/static/app.js`: SSE → DOM and uPlot charts. */
export const PAGE_JS = String.raw`
'use strict';
(function () {
  var esc = function (s) { return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); };
  var fmt = function (k, v) {
    if (k === 'memory') return (v / 1073741824).toFixed(1) + ' GiB';
    return Number.isInteger(v) ? String(v) : v.toFixed(2);
  };
  var $ = function (id) { return document.getElementById(id); };
  var state = { snapshot: null, runs: {}, run: null, charts: [], logActor: null };

  function renderCluster(s) {
    state.snapshot = s;
    $('head').textContent = s.head ? ('cluster ' + s.cluster + ' · head epoch ' + s.head.epoch + ' on ' + s.head.hostname) : ('cluster ' + s.cluster);
    var alive = s.nodes.filter(function (n) { return n.alive; }).length;
    $('node-summary').textContent = alive + ' alive, ' + (s.nodes.length - alive) + ' dead or left';
    $('nodes').innerHTML = s.nodes.map(function (n) {
      var res = Object.keys(n.resources.total).map(function (k) {
        var tot = n.resources.total[k], used = n.resources.used[k] || 0;
        var pct = tot > 0 ? Math.min(100, 100 * used / tot) : 0;
        return '<span>' + esc(k) + '</span><span class="bar"><i style="width:' + pct.toFixed(1) + '%"></i></span><span>' + esc(fmt(k, used)) + ' / ' + esc(fmt(k, tot)) + '</span>';
      }).join('');
      var gpus = n.gpus.map(function (g) {
        return '<div class="gpu' + (g.holders.length ? ' busy' : '') + '" data-gpu="' + g.index + '">GPU ' + g.index + '<br>' + (g.holders.length ? g.holders.map(esc).join(', ') : '<span class="sub">free</span>') + '</div>';
      }).join('');
      return '<div class="card node' + (n.alive ? '' : ' dead') + '" data-node="' + esc(n.id) + '"><h3>' + esc(n.id) + ' <span class="' + esc(n.state) + '">' + esc(n.state) + '</span></h3>' +
        '<div class="sub">' + esc([n.nodeType, n.hostname].filter(Boolean).join(' · ')) + (n.reason && !n.alive ? ' · ' + esc(n.reason) : '') + '</div>' +
        '<div class="res">' + res + '</div>' + (gpus ? '<div class="gpus">' + gpus + '</div>' : '') + '</div>';
    }).join('') || '<p class="sub">no nodes have joined</p>';
    var by = {};
    s.actors.forEach(function (a) { by[a.state] = (by[a.state] || 0) + 1; });
    $('actor-summary').textContent = Object.keys(by).map(function (k) { return by[k] + ' ' + k; }).join(', ');
    $('actors').tBodies[0].innerHTML = s.actors.map(function (a) {
      return '<tr data-actor="' + esc(a.id) + '" data-name="' + esc(a.name) + '"><td>' + esc(a.name) + '</td><td>' + esc(a.className) + '</td><td class="' + esc(a.state) + '">' + esc(a.state) + '</td><td>' + esc(a.node || '-') + '</td><td>' + esc(a.gpuIds.join(',')) + '</td><td>' + a.restarts + '</td><td>' + esc(a.state !== 'ALIVE' ? (a.reason || '') : '') + '</td><td class="last-log">' + esc(a.lastLog || '') + '</td></tr>';
    }).join('');
    $('pgs').tBodies[0].innerHTML = s.placementGroups.map(function (g) {
      return '<tr data-pg="' + esc(g.id) + '"><td>' + esc(g.name || g.id) + '</td><td>' + esc(g.strategy) + '</td><td class="' + esc(g.state) + '">' + esc(g.state) + '</td><td>' + esc(g.bundles.map(function (b) { return Object.keys(b).map(function (k) { return k + ':' + fmt(k, b[k]); }).join(' '); }).join(' | ')) + '</td><td>' + esc((g.bundleNodes || []).join(', ')) + '</td></tr>';
    }).join('');
    $('pending').innerHTML = s.pending.length ? '<h3>Pending demands</h3><ul>' + s.pending.map(function (p) { return '<li>' + esc(p.kind + ' ' + (p.name || p.id) + ': ' + p.reason) + '</li>'; }).join('') + '</ul>' : '';
  }

  function showLogs(actor) {
    state.logActor = actor;
    $('logs').hidden = false;
    $('log-actor').textContent = actor;
    fetch('/api/actors/' + encodeURIComponent(actor) + '/logs?lines=200').then(function (r) { return r.json(); }).then(function (j) {
      if (state.logActor !== actor) return;
      $('log-lines').textContent = (j.lines || []).map(function (l) { return new Date(l.time).toISOString().slice(11, 23) + ' ' + l.level.toUpperCase().padEnd(5) + ' ' + l.msg; }).join('\n') || '(no log lines yet)';
    });
  }
  $('actors').addEventListener('click', function (e) {
    var tr = e.target.closest('tr[data-actor]');
    if (tr) showLogs(tr.getAttribute('data-name'));
  });
  $('log-close').addEventListener('click', function () { state.logActor = null; $('logs').hidden = true; });
  setInterval(function () { if (state.logActor) showLogs(state.logActor); }, 2000);

  var PHASES = ['generate', 'search', 'oldLogprob', 'ref', 'update', 'allreduce', 'weightSync', 'eval', 'total'];
  var COLORS = ['#4a7bd1', '#d1694a', '#3aa76d', '#b04ad1', '#d1b44a', '#4ac3d1', '#7d8597', '#c0392b', '#1d2330'];
  var emOf = function (kind) { return function (s) { return s.emByType ? s.emByType[kind] : undefined; }; };
  var CHARTS = [
    { id: 'reward', title: 'Reward and EM', series: [{ label: 'reward', get: function (s) { return s.reward; } }, { label: 'periodic EM %', scale: 'pct', get: function (s) { return s.em; } }, { label: 'periodic EM single-hop %', scale: 'pct', get: emOf('single-hop') }, { label: 'periodic EM multi-hop %', scale: 'pct', get: emOf('multi-hop') }], axes2: 'pct', note: true },
    { id: 'length', title: 'Response length (tokens)', series: [{ label: 'response length', get: function (s) { return s.responseLength; } }] },
    { id: 'turns', title: 'Turns and searches per trajectory', series: [{ label: 'turns', get: function (s) { return s.turns; } }, { label: 'searches', get: function (s) { return s.searches; } }] },
    { id: 'noise', title: 'Noise probability p', series: [{ label: 'p', get: function (s) { return s.noiseP; } }, { label: 'noisy share', get: function (s) { return s.noisyShare; } }] },
    { id: 'timings', title: 'Step time split (s)', series: PHASES.map(function (p) { return { label: p, get: function (s) { return s.timings ? s.timings[p] : undefined; } }; }) },
    { id: 'simbatch', title: 'Simulator batch size', series: [{ label: 'mean', get: function (s) { return s.simulatorBatch ? s.simulatorBatch.mean : undefined; } }, { label: 'max', get: function (s) { return s.simulatorBatch ? s.simulatorBatch.max : undefined; } }] }
  ];

  var STEP_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

  function chartData(spec, steps) {
    var d = [steps.map(function (s) { return s.step; })];
    spec.series.forEach(function (sr) { d.push(steps.map(function (s) { var v = sr.get(s); return typeof v === 'number' ? v : null; })); });
    return d;
  }

  function buildCharts() {
    var root = $('charts');
    state.charts.forEach(function (c) { c.plot.destroy(); });
    state.charts = [];
    root.innerHTML = '';
    var width = Math.max(440, Math.min(720, Math.floor((root.clientWidth || 1000) / 2) - 24));
    CHARTS.forEach(function (spec) {
      var box = document.createElement('div');
      box.className = 'chart';
      box.id = 'chart-' + spec.id;
      box.setAttribute('data-points', '0');
      box.innerHTML = '<h3>' + esc(spec.title) + '</h3>' + (spec.note ? '<p id="em-note" style="margin:0 0 4px;color:var(--muted);font-size:12px">EM points: none yet</p>' : '');
      root.appendChild(box);
      var series = [{ label: 'step' }].concat(spec.series.map(function (sr, i) { return { label: sr.label, stroke: COLORS[i % COLORS.length], width: 1.5, scale: sr.scale || 'y', spanGaps: true }; }));
      // steps are whole numbers; y axes wide enough for labels like 121.75
      var axes = [{ label: 'step', incrs: STEP_INCRS }, { scale: 'y', size: 64 }];
      if (spec.axes2) axes.push({ scale: spec.axes2, side: 1, size: 48, grid: { show: false } });
      var opts = { width: width, height: 220, series: series, axes: axes, scales: { x: { time: false } }, legend: { live: true } };
      var plot = new uPlot(opts, chartData(spec, []), box);
      state.charts.push({ spec: spec, plot: plot, box: box });
    });
  }

  function updateCharts() {
    var steps = state.runs[state.run] || [];
    state.charts.forEach(function (c) {
      c.plot.setData(chartData(c.spec, steps));
      c.box.setAttribute('data-points', String(steps.length));
    });
    var last = steps[steps.length - 1];
    var lastEm = null;
    for (var i = steps.length - 1; i >= 0 && lastEm === null; i--) if (typeof steps[i].em === 'number') lastEm = steps[i];
    // what each EM point is: a greedy evaluation of a fixed sample of one split (dev during RL), not the final test EM
    var emWhat = lastEm ? ((lastEm.evalSplit || 'held-out') + ' EM') : 'EM';
    var emCount = lastEm && typeof lastEm.evalQuestions === 'number' ? lastEm.evalQuestions + ' questions sampled' + (typeof lastEm.evalPool === 'number' ? ' of ' + lastEm.evalPool : '') : '';
    var note = $('em-note');
    if (note) note.textContent = lastEm ? 'EM points: ' + emWhat + ', ' + (emCount || 'a sample') + ' per evaluation (the final test EM is in report.json and the run\'s em.svg)' : 'EM points: none yet';
    $('train-summary').textContent = last ? ('run ' + state.run + ' · step ' + last.step + (typeof last.reward === 'number' ? ' · reward ' + last.reward.toFixed(3) : '') + (lastEm ? ' · ' + emWhat + ' ' + lastEm.em.toFixed(1) + '%' + (typeof lastEm.evalQuestions === 'number' ? ' on ' + lastEm.evalQuestions + ' questions' : '') + ' (step ' + lastEm.step + ')' : '') + (typeof last.noiseP === 'number' ? ' · p ' + last.noiseP.toFixed(2) : '')) : 'no training metrics yet';
  }

  function renderRuns() {
    var names = Object.keys(state.runs);
    if (!state.run || names.indexOf(state.run) < 0) state.run = names[names.length - 1] || null;
    $('run').innerHTML = names.map(function (n) { return '<option' + (n === state.run ? ' selected' : '') + '>' + esc(n) + '</option>'; }).join('');
    updateCharts();
  }
  $('run').addEventListener('change', function (e) { state.run = e.target.value; updateCharts(); });

  buildCharts();
  var es = new EventSource('/api/events');
  es.onopen = function () { $('conn').textContent = 'live'; $('conn').className = 'conn on'; };
  es.onerror = function () { $('conn').textContent = 'reconnecting…'; $('conn').className = 'conn off'; };
  es.addEventListener('cluster', function (e) { renderCluster(JSON.parse(e.data)); });
  es.addEventListener('training', function (e) { state.runs = JSON.parse(e.data).runs || {}; renderRuns(); });
  es.addEventListener('step', function (e) {
    var u = JSON.parse(e.data);
    var series = state.runs[u.run] || (state.runs[u.run] = []);
    while (series.length && series[series.length - 1].step >= u.step.step) series.pop();
    series.push(u.step);
    if (!state.run || Object.keys(state.runs).length === 1) renderRuns(); else if (u.run === state.run) updateCharts();
    else renderRuns();
  });
})();
`;

/**
 * Browser script of the status page: polls status.json and readyz (relative URLs, so the page also
 * works behind a path prefix) once a second and redraws. Plain ES2017 kept as a string, because
 * the build ships only compiled code; it builds the DOM with textContent, never innerHTML, so tier
 * names from a policy file cannot inject markup. Numeric cells carry `data-field` / `data-value`
 * with the exact value, so tests compare the page with /metrics without parsing formatted text.
 */
export const STATUS_PAGE_SCRIPT = `
(function () {
  'use strict';
  var POLL_MS = 1000;
  var SPARK_POINTS = 60;
  var PALETTE = ['#e0a526', '#b068d9', '#4c8ee8', '#22a99a', '#5aa05a', '#d9704c', '#8d7bd6'];
  var INACTIVE = /inactive|dormant|lapsed|churn/i;
  var pyramidSvg = document.getElementById('pyramid');
  var SVGNS = pyramidSvg.namespaceURI;
  var intFormat = new Intl.NumberFormat();
  var sparkHistory = {};

  function byId(id) { return document.getElementById(id); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text != null) node.textContent = text;
    return node;
  }
  function svgEl(tag, attrs, text) {
    var node = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text != null) node.textContent = text;
    return node;
  }
  function numCell(field, value, text, extraClass) {
    var td = el('td', { class: 'num' + (extraClass ? ' ' + extraClass : ''), 'data-field': field, 'data-value': value == null ? '' : String(value) }, text);
    return td;
  }
  function fmtInt(n) { return n == null ? '\\u2013' : intFormat.format(n); }
  function fmtRate(n) { return n >= 100 ? intFormat.format(Math.round(n)) : n.toFixed(1); }
  function fmtPct(part, whole) { return whole > 0 ? (100 * part / whole).toFixed(1) + '%' : '\\u2013'; }
  function fmtSeconds(s) {
    if (s == null) return '\\u2013';
    if (s < 10) return s.toFixed(2) + ' s';
    if (s < 60) return s.toFixed(1) + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' m ' + Math.round(s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.round((s % 3600) / 60) + ' m';
  }
  function fmtMoney(minor, currency, digits) {
    var major = minor / Math.pow(10, digits);
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency, minimumFractionDigits: 0, maximumFractionDigits: 0 }).format(major);
    } catch (e) {
      return intFormat.format(Math.round(major)) + ' ' + currency;
    }
  }
  function fmtTime(ms) {
    var d = new Date(ms);
    function two(n) { return (n < 10 ? '0' : '') + n; }
    return two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
  }

  // Tier colours follow the pyramid from the top, so a tier keeps its colour in every panel.
  var tierColours = {};
  var tierRanks = {};
  function colourFor(tier) { return tierColours[tier] || '#56627a'; }
  function assignColours(tiers) {
    tierColours = {};
    tierRanks = {};
    tiers.forEach(function (t, i) {
      tierColours[t.tier] = INACTIVE.test(t.tier) ? '#56627a' : PALETTE[i % PALETTE.length];
      tierRanks[t.tier] = t.rank;
    });
  }

  function renderPyramid(p) {
    clear(pyramidSvg);
    var tbody = byId('tiers-body');
    var tfoot = byId('tiers-foot');
    clear(tbody);
    clear(tfoot);
    var width = 360;
    if (!p || p.tiers.length === 0) {
      pyramidSvg.setAttribute('viewBox', '0 0 ' + width + ' 300');
      pyramidSvg.appendChild(svgEl('polygon', { class: 'ghost', points: [width / 2, 10, width - 10, 290, 10, 290].join(' ') }));
      pyramidSvg.appendChild(svgEl('text', { class: 'ghost-text', x: width / 2, y: 200, 'text-anchor': 'middle' }, 'waiting for the first census'));
      var row = el('tr');
      row.appendChild(el('td', { class: 'empty', colspan: '8' }, 'No census yet'));
      tbody.appendChild(row);
      byId('census-note').textContent = '';
      byId('profit-rule').textContent = '';
      return;
    }
    assignColours(p.tiers);
    var n = p.tiers.length;
    var gap = 4;
    var layerHeight = Math.max(36, Math.min(62, Math.floor(330 / n)));
    var total = n * layerHeight + (n - 1) * gap;
    var apex = 60;
    var base = width - 8;
    var cx = width / 2;
    function widthAt(y) { return apex + (base - apex) * (y / total); }
    pyramidSvg.setAttribute('viewBox', '0 0 ' + width + ' ' + total);
    var customers = 0;
    var revenue = 0;
    var profit = 0;
    p.tiers.forEach(function (t) { customers += t.customers; revenue += t.revenueMinor; profit += t.profitMinor || 0; });
    p.tiers.forEach(function (t, i) {
      var y0 = i * (layerHeight + gap);
      var y1 = y0 + layerHeight;
      var w0 = widthAt(y0) / 2;
      var w1 = widthAt(y1) / 2;
      var g = svgEl('g', { 'data-tier': t.tier });
      var layer = svgEl('polygon', {
        class: 'layer',
        fill: colourFor(t.tier),
        points: [cx - w0, y0, cx + w0, y0, cx + w1, y1, cx - w1, y1].map(function (v) { return v.toFixed(1); }).join(' ')
      });
      layer.appendChild(svgEl('title', null, t.tier + ': ' + fmtInt(t.customers) + ' customers, ' + fmtMoney(t.revenueMinor, p.currency, p.minorUnitDigits)));
      g.appendChild(layer);
      g.appendChild(svgEl('text', { class: 'layer-name', x: cx, y: y0 + layerHeight * 0.45, 'text-anchor': 'middle', 'dominant-baseline': 'middle' }, t.tier));
      g.appendChild(svgEl('text', { class: 'layer-count', x: cx, y: y0 + layerHeight * 0.78, 'text-anchor': 'middle', 'dominant-baseline': 'middle', 'data-field': 'customers', 'data-value': String(t.customers) }, fmtInt(t.customers)));
      pyramidSvg.appendChild(g);

      var tr = el('tr', { 'data-tier': t.tier });
      var name = el('td', { class: 'tier-name' });
      var swatch = el('span', { class: 'swatch' });
      swatch.style.background = colourFor(t.tier);
      name.appendChild(swatch);
      name.appendChild(document.createTextNode(t.tier));
      tr.appendChild(name);
      tr.appendChild(numCell('customers', t.customers, fmtInt(t.customers)));
      tr.appendChild(numCell('customerShare', null, fmtPct(t.customers, customers)));
      tr.appendChild(numCell('revenueMinor', t.revenueMinor, fmtMoney(t.revenueMinor, p.currency, p.minorUnitDigits)));
      tr.appendChild(numCell('revenueShare', null, fmtPct(t.revenueMinor, revenue)));
      var tierProfit = t.profitMinor || 0;
      tr.appendChild(numCell('profitMinor', tierProfit, fmtMoney(tierProfit, p.currency, p.minorUnitDigits)));
      tr.appendChild(numCell('profitShare', null, fmtPct(tierProfit, profit)));
      tr.appendChild(numCell('profitPerCustomer', null, t.customers === 0 ? '\u2013' : fmtMoney(Math.round(tierProfit / t.customers), p.currency, p.minorUnitDigits)));
      tbody.appendChild(tr);
    });
    var foot = el('tr');
    foot.appendChild(el('td', { class: 'tier-name' }, 'All tiers'));
    foot.appendChild(numCell('customersTotal', customers, fmtInt(customers)));
    foot.appendChild(el('td'));
    foot.appendChild(numCell('revenueTotal', revenue, fmtMoney(revenue, p.currency, p.minorUnitDigits)));
    foot.appendChild(el('td'));
    foot.appendChild(numCell('profitTotal', profit, fmtMoney(profit, p.currency, p.minorUnitDigits)));
    foot.appendChild(el('td'));
    foot.appendChild(numCell('profitPerCustomerTotal', null, customers === 0 ? '\u2013' : fmtMoney(Math.round(profit / customers), p.currency, p.minorUnitDigits)));
    tfoot.appendChild(foot);
    var c = p.profitConcentration;
    var share = function (part) { return c.totalProfitMinor > 0 ? fmtPct(part, c.totalProfitMinor) : '\u2013'; };
    byId('profit-rule').textContent = c
      ? '80/20/30 rule on ' + fmtInt(c.customers) + ' customers: the top 20 % by profit (' + fmtInt(c.top20Customers) + ') make ' + share(c.top20ProfitMinor) +
        ' of the profit; the bottom 30 % (' + fmtInt(c.bottom30Customers) + ') ' + (c.bottom30ProfitMinor < 0 ? 'consume ' + share(-c.bottom30ProfitMinor) + ' of it' : 'consume none of it') +
        ' (rule of thumb: about 80 % and 50 %; ranked ' + fmtTime(c.at) + ')'
      : '';
    byId('census-note').textContent = 'Census of ' + fmtTime(p.receivedAt) + ' \\u00b7 revenue over the rolling window, ' + p.currency;
  }

  function sparkline(values) {
    var w = 90;
    var h = 22;
    var svg = svgEl('svg', { class: 'spark', viewBox: '0 0 ' + w + ' ' + h, 'aria-hidden': 'true' });
    var max = Math.max.apply(null, values.concat([1]));
    // At least 15 slots, so a young history is not squeezed into a sliver at the right edge.
    var slots = Math.max(values.length, 15);
    var step = w / (slots - 1);
    var offset = slots - values.length;
    var pts = values.map(function (v, i) { return ((offset + i) * step).toFixed(1) + ',' + (h - 1 - (v / max) * (h - 3)).toFixed(1); });
    if (pts.length > 1) {
      svg.appendChild(svgEl('polygon', { points: pts.join(' ') + ' ' + w + ',' + h + ' ' + (offset * step).toFixed(1) + ',' + h }));
      svg.appendChild(svgEl('polyline', { points: pts.join(' ') }));
    }
    return svg;
  }

  function lagClass(seconds, messages) {
    if (messages === 0) return 'lag-zero';
    if (seconds != null && seconds >= 60) return 'lag-hot';
    if (messages != null && messages > 0) return 'lag-warm';
    return '';
  }

  // The policy in force; during a switch the version left and how far re-evaluating every customer has come.
  function policyCell(policy) {
    var td = el('td', { class: 'policy' });
    if (policy == null) {
      td.textContent = '\u2013';
      return td;
    }
    var ratio = policy.of > 0 ? policy.done / policy.of : 1;
    td.appendChild(el('span', { 'data-field': 'policyVersion', 'data-value': policy.version }, policy.version));
    if (policy.switchingFrom != null) {
      td.appendChild(el('span', { class: 'meta', 'data-field': 'switchingFrom', 'data-value': policy.switchingFrom }, 'from ' + policy.switchingFrom));
      td.appendChild(el('span', { class: 'meta', 'data-field': 'reevaluationRatio', 'data-value': String(ratio) }, 're-evaluated ' + fmtPct(policy.done, policy.of)));
    }
    return td;
  }

  function renderPartitions(partitions) {
    var tbody = byId('partitions-body');
    clear(tbody);
    var seen = {};
    if (partitions.length === 0) {
      var empty = el('tr');
      empty.appendChild(el('td', { class: 'empty', colspan: '11' }, 'No partitions assigned to this instance'));
      tbody.appendChild(empty);
    }
    partitions.forEach(function (p) {
      var key = p.topic + '/' + p.partition;
      seen[key] = true;
      var hist = sparkHistory[key] || (sparkHistory[key] = []);
      hist.push(p.throughputPerSecond);
      if (hist.length > SPARK_POINTS) hist.shift();
      var tr = el('tr', { 'data-topic': p.topic, 'data-partition': String(p.partition) });
      tr.appendChild(el('td', null, p.topic));
      tr.appendChild(numCell('partition', p.partition, String(p.partition)));
      var cls = lagClass(p.lagSeconds, p.lagMessages);
      tr.appendChild(numCell('lagMessages', p.lagMessages, fmtInt(p.lagMessages), cls));
      tr.appendChild(numCell('lagSeconds', p.lagSeconds, fmtSeconds(p.lagSeconds), cls));
      var rate = numCell('throughputPerSecond', p.throughputPerSecond);
      var wrap = el('span', { class: 'rate' });
      wrap.appendChild(el('span', null, fmtRate(p.throughputPerSecond)));
      wrap.appendChild(sparkline(hist));
      rate.appendChild(wrap);
      tr.appendChild(rate);
      tr.appendChild(numCell('scored', p.processed.scored, fmtInt(p.processed.scored)));
      tr.appendChild(numCell('duplicate', p.processed.duplicate, fmtInt(p.processed.duplicate)));
      tr.appendChild(numCell('late', p.processed.late, fmtInt(p.processed.late)));
      tr.appendChild(numCell('dlq', p.processed.dlq, fmtInt(p.processed.dlq)));
      tr.appendChild(numCell('outboxPending', p.outboxPending, fmtInt(p.outboxPending)));
      tr.appendChild(policyCell(p.policy));
      tbody.appendChild(tr);
    });
    Object.keys(sparkHistory).forEach(function (key) { if (!seen[key]) delete sparkHistory[key]; });
  }

  function tierBadge(tier) {
    if (tier == null) return el('span', { class: 'tier none' }, 'new');
    var badge = el('span', { class: 'tier' }, tier);
    badge.style.background = colourFor(tier);
    return badge;
  }

  function renderChanges(changes) {
    var list = byId('changes');
    clear(list);
    byId('changes-count').textContent = changes.length ? 'latest ' + changes.length : '';
    if (changes.length === 0) {
      list.appendChild(el('li', { class: 'empty' }, 'No tier changes yet'));
      return;
    }
    changes.forEach(function (c) {
      var li = el('li', { 'data-to': c.to, 'data-cause': c.cause });
      li.appendChild(el('span', { class: 'time', title: c.effectiveAt != null ? 'effective ' + new Date(c.effectiveAt).toISOString() : '' }, fmtTime(c.at)));
      var move = el('span');
      move.appendChild(tierBadge(c.from));
      var from = c.from == null ? null : tierRanks[c.from];
      var to = tierRanks[c.to];
      var dir = from == null || to == null || from === to ? 'flat' : to > from ? 'up' : 'down';
      move.appendChild(el('span', { class: 'arrow ' + dir }, dir === 'up' ? '\\u25b2' : dir === 'down' ? '\\u25bc' : '\\u2192'));
      move.appendChild(tierBadge(c.to));
      if (c.partition != null) move.appendChild(el('span', { class: 'meta' }, (c.topic ? c.topic + ' ' : '') + 'p' + c.partition));
      if (c.policyVersion) move.appendChild(el('span', { class: 'meta' }, 'policy ' + c.policyVersion));
      li.appendChild(move);
      li.appendChild(el('span', { class: 'pill' }, c.cause));
      list.appendChild(li);
    });
  }

  function barrierText(b) {
    if (!b || b.waiting.length === 0) return '';
    var at = b.instant == null ? 'the first boundary instant' : fmtTime(b.instant);
    return ' Event-clock barrier at ' + at + ' waits on partitions ' + b.waiting.join(', ') + ' (no record at or after it yet).';
  }

  function renderBoundaries(r, p, b) {
    var tbody = byId('boundaries-body');
    clear(tbody);
    if (!r) {
      byId('boundaries-epoch').textContent = '';
      byId('boundaries-note').textContent = 'No epoch yet (or the policy has no relative tiers).' + barrierText(b);
      return;
    }
    byId('boundaries-epoch').textContent = 'epoch ' + r.epoch;
    r.cuts.forEach(function (cut) {
      var tr = el('tr', { 'data-cut': cut.metric + ':' + cut.bps });
      tr.appendChild(el('td', null, 'top ' + cut.bps / 100 + '% by ' + cut.metric));
      tr.appendChild(numCell('rank', cut.rank, fmtInt(cut.rank)));
      var text = cut.value == null ? 'nobody' : cut.metric === 'monetary' && p ? fmtMoney(cut.value, p.currency, p.minorUnitDigits) : fmtInt(cut.value);
      tr.appendChild(numCell('boundary', cut.value, text));
      tbody.appendChild(tr);
    });
    byId('boundaries-note').textContent = fmtInt(r.population) + ' ranked customers at ' + fmtTime(r.at) + barrierText(b);
  }

  function renderDlq(dlq, total) {
    var tbody = byId('dlq-body');
    clear(tbody);
    if (dlq.length === 0) {
      var empty = el('tr');
      empty.appendChild(el('td', { class: 'empty', colspan: '2' }, 'No dead-lettered records'));
      tbody.appendChild(empty);
    }
    dlq.forEach(function (d) {
      var tr = el('tr', { 'data-reason': d.reason });
      tr.appendChild(el('td', null, d.reason));
      tr.appendChild(numCell('dlqCount', d.count, fmtInt(d.count), 'dlq-count'));
      tbody.appendChild(tr);
    });
    var foot = byId('dlq-total');
    foot.textContent = fmtInt(total);
    foot.setAttribute('data-value', String(total));
  }

  function setTile(id, value, text) {
    var node = byId(id);
    node.textContent = text;
    node.setAttribute('data-value', value == null ? '' : String(value));
  }

  function renderTiles(s) {
    var rate = 0;
    var lag = 0;
    var oldest = null;
    s.partitions.forEach(function (p) {
      rate += p.throughputPerSecond;
      lag += p.lagMessages || 0;
      if (p.lagSeconds != null) oldest = oldest == null ? p.lagSeconds : Math.max(oldest, p.lagSeconds);
    });
    var customers = null;
    if (s.pyramid) { customers = 0; s.pyramid.tiers.forEach(function (t) { customers += t.customers; }); }
    setTile('tile-throughput', rate, fmtRate(rate));
    setTile('tile-lag', lag, fmtInt(lag));
    setTile('tile-oldest', oldest, fmtSeconds(oldest));
    setTile('tile-customers', customers, fmtInt(customers));
    setTile('tile-changes', s.totals.tierChanges, fmtInt(s.totals.tierChanges));
    setTile('tile-dlq', s.totals.dlq, fmtInt(s.totals.dlq));
  }

  function renderChecks(checks) {
    var tbody = byId('checks-body');
    clear(tbody);
    var names = Object.keys(checks);
    if (names.length === 0) {
      var empty = el('tr');
      empty.appendChild(el('td', { class: 'empty', colspan: '3' }, 'No readiness checks configured'));
      tbody.appendChild(empty);
    }
    names.forEach(function (name) {
      var c = checks[name];
      var tr = el('tr', { 'data-check': name, 'data-ok': String(c.ok) });
      tr.appendChild(el('td', { class: 'tier-name' }, name));
      var state = el('td');
      state.appendChild(el('span', { class: 'dot ' + (c.ok ? 'ok' : 'bad') }));
      state.appendChild(document.createTextNode(c.ok ? 'ok' : 'failing'));
      tr.appendChild(state);
      tr.appendChild(el('td', { class: 'detail' }, c.detail || ''));
      tbody.appendChild(tr);
    });
  }

  function renderReady(ready) {
    var badge = byId('ready');
    var alert = byId('not-ready');
    if (!ready) {
      badge.className = 'badge';
      badge.textContent = 'unknown';
      clear(byId('checks-body'));
      return;
    }
    var failing = Object.keys(ready.checks).filter(function (k) { return !ready.checks[k].ok; });
    renderChecks(ready.checks);
    badge.className = 'badge ' + (failing.length ? 'bad' : 'ok');
    badge.textContent = ready.status;
    badge.title = Object.keys(ready.checks).map(function (k) { return k + ': ' + (ready.checks[k].ok ? 'ok' : ready.checks[k].detail || 'failing'); }).join('\\n');
    if (failing.length) {
      alert.hidden = false;
      alert.textContent = 'Not ready \\u2014 ' + failing.map(function (k) { return k + ': ' + (ready.checks[k].detail || 'failing'); }).join('; ');
    } else {
      alert.hidden = true;
    }
  }

  async function fetchJson(url) {
    var res = await fetch(url, { cache: 'no-store' });
    // readyz answers 503 with a body that explains why; that is data, not a failure.
    if (!res.ok && res.status !== 503) throw new Error(url + ' answered ' + res.status);
    return res.json();
  }

  async function tick() {
    try {
      var results = await Promise.all([fetchJson('status.json'), fetchJson('readyz').catch(function () { return null; })]);
      var s = results[0];
      byId('version').textContent = 'v' + s.build.version + ' \\u00b7 node ' + s.build.nodeVersion;
      renderPyramid(s.pyramid);
      renderTiles(s);
      renderPartitions(s.partitions);
      renderChanges(s.latestChanges);
      renderDlq(s.dlq, s.totals.dlq);
      renderBoundaries(s.ranking, s.pyramid, s.barrier);
      renderReady(results[1]);
      byId('updated').textContent = 'updated ' + fmtTime(s.generatedAt);
      byId('conn').hidden = true;
      document.body.setAttribute('data-generated-at', String(s.generatedAt));
    } catch (err) {
      byId('conn').hidden = false;
      byId('conn').textContent = 'Cannot reach the scorer (' + (err && err.message ? err.message : err) + '); retrying every second.';
    } finally {
      setTimeout(tick, POLL_MS);
    }
  }
  tick();
})();
`;

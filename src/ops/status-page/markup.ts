/**
 * Body markup of the status page: the fixed skeleton that the script fills in. Ids and
 * `data-field` names are what the browser test and operators' scrapers rely on.
 */
export const STATUS_PAGE_BODY = `
<header class="bar">
  <div class="brand">
    <svg class="logo" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 2 L23 21 H1 Z"/></svg>
    <span>pyramid</span>
    <span id="version" class="muted"></span>
  </div>
  <div class="bar-right">
    <span id="updated" class="muted">connecting…</span>
    <span id="ready" class="badge" title="">…</span>
  </div>
</header>
<div id="conn" class="alert" hidden></div>
<div id="not-ready" class="alert" hidden></div>
<main>
  <section class="tiles" aria-label="summary">
    <div class="tile"><div class="tile-label">Throughput</div><div class="tile-value"><span id="tile-throughput" data-field="throughputTotal">–</span><span class="tile-unit">rec/s</span></div></div>
    <div class="tile"><div class="tile-label">Lag (records)</div><div class="tile-value"><span id="tile-lag" data-field="lagMessagesTotal">–</span><span class="tile-unit">records</span></div></div>
    <div class="tile"><div class="tile-label">Lag (time)</div><div class="tile-value"><span id="tile-oldest" data-field="lagSecondsMax">–</span></div></div>
    <div class="tile"><div class="tile-label">Customers</div><div class="tile-value"><span id="tile-customers" data-field="customersTotal">–</span></div></div>
    <div class="tile"><div class="tile-label">Tier changes</div><div class="tile-value"><span id="tile-changes" data-field="tierChangesTotal">–</span></div></div>
    <div class="tile"><div class="tile-label">Dead-lettered</div><div class="tile-value"><span id="tile-dlq" data-field="dlqTotal">–</span></div></div>
  </section>
  <section class="grid">
    <article class="card" aria-labelledby="h-pyramid">
      <h2 id="h-pyramid">Customer pyramid</h2>
      <div class="pyr-wrap">
        <svg id="pyramid" viewBox="0 0 360 300" role="img" aria-label="customer pyramid, most valuable tier on top"></svg>
        <table id="tiers">
          <thead><tr><th>Tier</th><th class="num">Customers</th><th class="num">Share</th><th class="num">Revenue</th><th class="num">Share</th><th class="num">Profit</th><th class="num">Share</th><th class="num">Per customer</th></tr></thead>
          <tbody id="tiers-body"></tbody>
          <tfoot id="tiers-foot"></tfoot>
        </table>
      </div>
      <p id="census-note" class="muted"></p>
      <p id="profit-rule" class="muted" data-field="profitRule"></p>
    </article>
    <article class="card" aria-labelledby="h-changes">
      <h2 id="h-changes"><span>Latest tier changes</span><span id="changes-count"></span></h2>
      <ol id="changes"></ol>
    </article>
    <article class="card card-wide" aria-labelledby="h-partitions">
      <h2 id="h-partitions">Partitions</h2>
      <table id="partitions">
        <thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Lag (records)</th><th class="num">Lag (time)</th><th class="num">Throughput (rec/s)</th><th class="num">Scored</th><th class="num">Duplicate</th><th class="num">Late</th><th class="num">DLQ</th><th class="num">Outbox pending</th><th>Policy</th></tr></thead>
        <tbody id="partitions-body"></tbody>
      </table>
    </article>
    <article class="card" aria-labelledby="h-dlq">
      <h2 id="h-dlq"><span>Dead-letter queue</span><span>total <span id="dlq-total" data-field="dlqTotal">–</span></span></h2>
      <table id="dlq">
        <thead><tr><th>Reason</th><th class="num">Records</th></tr></thead>
        <tbody id="dlq-body"></tbody>
      </table>
    </article>
    <article class="card" aria-labelledby="h-boundaries">
      <h2 id="h-boundaries"><span>Relative boundaries</span><span id="boundaries-epoch"></span></h2>
      <table id="boundaries">
        <thead><tr><th>Cut</th><th class="num">Rank</th><th class="num">Boundary value</th></tr></thead>
        <tbody id="boundaries-body"></tbody>
      </table>
      <p id="boundaries-note" class="muted"></p>
    </article>
    <article class="card" aria-labelledby="h-checks">
      <h2 id="h-checks">Readiness checks</h2>
      <table id="checks">
        <thead><tr><th>Check</th><th>State</th><th>Detail</th></tr></thead>
        <tbody id="checks-body"></tbody>
      </table>
    </article>
  </section>
</main>
<footer>Live view of this instance only; refreshes every second. Metrics for all instances: /metrics, Grafana.</footer>
`;

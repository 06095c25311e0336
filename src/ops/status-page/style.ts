/**
 * Stylesheet of the status page. Kept as a TS string (not a .css file) because the build copies
 * only compiled code and Lua; system fonts only, nothing fetched from anywhere.
 */
export const STATUS_PAGE_STYLE = `
:root {
  --bg: #0d1320; --panel: #151d2e; --panel-2: #1b2539; --line: #26324a;
  --text: #e6ebf5; --muted: #8b97ad; --accent: #f0b429;
  --ok: #3ecf8e; --bad: #ff5d5d; --warn: #f7a440;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
  font-size: 14px; color: var(--text); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; }
.num { font-variant-numeric: tabular-nums; text-align: right; white-space: nowrap; }
.muted { color: var(--muted); }
.bar { display: flex; align-items: center; justify-content: space-between; padding: 14px 24px;
  background: var(--panel); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 1; }
.brand { display: flex; align-items: center; gap: 10px; font-size: 18px; font-weight: 700; letter-spacing: .02em; }
.brand .logo { width: 22px; height: 22px; fill: var(--accent); }
.brand .muted { font-size: 13px; font-weight: 400; }
.bar-right { display: flex; align-items: center; gap: 14px; font-size: 13px; }
.badge { padding: 4px 10px; border-radius: 999px; font-weight: 600; font-size: 12px; text-transform: uppercase;
  letter-spacing: .06em; background: var(--panel-2); color: var(--muted); border: 1px solid var(--line); }
.badge.ok { color: #06281a; background: var(--ok); border-color: var(--ok); }
.badge.bad { color: #fff; background: var(--bad); border-color: var(--bad); }
.alert { margin: 16px 24px 0; padding: 10px 14px; border-radius: 8px; background: rgba(255, 93, 93, .12);
  border: 1px solid rgba(255, 93, 93, .5); color: #ffd0d0; }
.alert[hidden] { display: none; }
main { padding: 18px 24px 28px; display: flex; flex-direction: column; gap: 18px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(145px, 1fr)); gap: 12px; }
.tile { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.tile-label { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .06em; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tile-value { font-size: 24px; font-weight: 700; margin-top: 4px; font-variant-numeric: tabular-nums; }
.tile-unit { font-size: 13px; font-weight: 400; color: var(--muted); margin-left: 4px; }
.grid { display: grid; grid-template-columns: minmax(0, 7fr) minmax(0, 5fr); gap: 18px; }
@media (max-width: 1100px) { .grid { grid-template-columns: minmax(0, 1fr); } }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 16px 18px; min-width: 0; }
.card h2 { margin: 0 0 12px; font-size: 13px; text-transform: uppercase; letter-spacing: .08em; color: var(--muted); font-weight: 600;
  display: flex; justify-content: space-between; }
.card-wide { grid-column: 1 / -1; }
.pyr-wrap { display: grid; grid-template-columns: minmax(280px, 1fr) auto; gap: 24px; align-items: center; }
@media (max-width: 800px) { .pyr-wrap { grid-template-columns: minmax(0, 1fr); } }
#pyramid { width: 100%; max-width: 440px; max-height: 360px; height: auto; display: block; margin: 0 auto; }
#pyramid .layer { stroke: var(--bg); stroke-width: 2; }
#pyramid .layer-name { font-weight: 700; font-size: 17px; fill: #fff; paint-order: stroke; stroke: rgba(0, 0, 0, .35); stroke-width: 3px; }
#pyramid .layer-count { font-size: 14px; fill: rgba(255, 255, 255, .92); paint-order: stroke; stroke: rgba(0, 0, 0, .3); stroke-width: 3px; }
#pyramid .ghost { fill: none; stroke: var(--line); stroke-width: 2; stroke-dasharray: 6 5; }
#pyramid .ghost-text { fill: var(--muted); font-size: 13px; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th.num { text-align: right; }
td { padding: 7px 8px; border-bottom: 1px solid rgba(38, 50, 74, .6); }
tbody tr:last-child td { border-bottom: none; }
tfoot td { border-top: 1px solid var(--line); border-bottom: none; font-weight: 600; }
td.tier-name { white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 8px; vertical-align: baseline; }
.empty { color: var(--muted); padding: 14px 8px; text-align: center; }
.lag-hot { color: var(--bad); font-weight: 700; }
.lag-warm { color: var(--warn); font-weight: 600; }
.lag-zero { color: var(--ok); }
.rate { display: inline-flex; align-items: center; gap: 8px; }
.spark { width: 90px; height: 22px; }
.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.spark polygon { fill: rgba(240, 180, 41, .15); stroke: none; }
#changes { list-style: none; margin: 0; padding: 0; max-height: 420px; overflow: auto; }
#changes li { display: grid; grid-template-columns: 74px 1fr auto; gap: 10px; align-items: center; padding: 7px 4px;
  border-bottom: 1px solid rgba(38, 50, 74, .6); }
#changes li:last-child { border-bottom: none; }
#changes li.empty { display: block; }
.time { color: var(--muted); font-variant-numeric: tabular-nums; font-size: 12px; }
.tier { display: inline-block; padding: 2px 8px; border-radius: 6px; font-weight: 600; font-size: 12px; color: #fff; }
.tier.none { background: var(--panel-2); color: var(--muted); }
.arrow { margin: 0 6px; font-weight: 700; }
.arrow.up { color: var(--ok); }
.arrow.down { color: var(--bad); }
.arrow.flat { color: var(--muted); }
.pill { font-size: 11px; padding: 2px 7px; border-radius: 999px; border: 1px solid var(--line); color: var(--muted); letter-spacing: .04em; }
.meta { color: var(--muted); font-size: 12px; margin-left: 8px; white-space: nowrap; }
.dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 8px; vertical-align: middle; }
.dot.ok { background: var(--ok); }
.dot.bad { background: var(--bad); }
td.detail { color: var(--muted); font-size: 12px; word-break: break-word; }
.dlq-count { color: var(--warn); font-weight: 700; }
footer { padding: 0 24px 20px; color: var(--muted); font-size: 12px; }
`;

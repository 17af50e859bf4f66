/** The stats page's stylesheet: compact HAProxy-like tables, state colours shared by the rows and the legend. */
export const PAGE_STYLE = String.raw`
:root {
  --up: #d9f2d9; --up-edge: #2e9b3e;
  --starting: #dbe8fb; --starting-edge: #3a78c9;
  --drain: #fcebc7; --drain-edge: #d08a00;
  --maint: #e4e1ee; --maint-edge: #7a6ea8;
  --down: #f8d3d0; --down-edge: #c8322b;
  --open: #eef1f5; --line: #d5dae1; --muted: #5d6673; --ink: #1c2430;
}
* { box-sizing: border-box; }
body { margin: 0; padding: 10px 16px 32px; font: 13px/1.35 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK KR", "Malgun Gothic", "NanumGothic", sans-serif; color: var(--ink); background: #fafbfc; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 18px; margin-bottom: 8px; }
h1 { font-size: 18px; margin: 0; }
h1 small { font-weight: normal; color: var(--muted); font-size: 13px; margin-left: 6px; }
.live { font-weight: 600; padding: 1px 8px; border-radius: 10px; }
.live.on { background: var(--up); color: #1d6b28; }
.live.off { background: var(--down); color: #8f1f1a; }
#updated { color: var(--muted); }
.vrrp { font-weight: 700; font-size: 12px; padding: 1px 8px; border-radius: 10px; border: 1px solid; }
.vrrp[hidden] { display: none; }
.vrrp.master { background: var(--up); border-color: var(--up-edge); color: #1d6b28; }
.vrrp.backup { background: var(--starting); border-color: var(--starting-edge); color: #1f4f8f; }
.vrrp.fault { background: var(--down); border-color: var(--down-edge); color: #8f1f1a; }
.vrrp.stop { background: var(--maint); border-color: var(--maint-edge); color: var(--ink); }
.token { display: flex; align-items: center; gap: 6px; margin-left: auto; }
.token input { width: 200px; padding: 3px 6px; }
.token-state { color: var(--muted); }
.token-state.set { color: #1d6b28; font-weight: 600; }
.message { min-height: 20px; margin: 0 0 8px; padding: 3px 8px; border-radius: 4px; }
.message:empty { visibility: hidden; }
.message.error { background: var(--down); color: #7d1813; font-weight: 600; }
.message.ok { background: var(--up); color: #1d5e25; }
.message.pending { background: var(--open); }
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 0 0 10px; padding: 0; list-style: none; color: var(--muted); }
.legend li { display: flex; align-items: center; gap: 5px; }
.chip { display: inline-block; min-width: 64px; text-align: center; font-weight: 700; font-size: 11px; padding: 1px 6px; border-left: 4px solid; color: var(--ink); }
.chip.up, tr.state-up { background: var(--up); border-color: var(--up-edge); }
.chip.starting, tr.state-starting { background: var(--starting); border-color: var(--starting-edge); }
.chip.drain, tr.state-drain { background: var(--drain); border-color: var(--drain-edge); }
.chip.maint, tr.state-maint { background: var(--maint); border-color: var(--maint-edge); }
.chip.down, tr.state-down { background: var(--down); border-color: var(--down-edge); }
table.stats { border-collapse: collapse; margin: 0 0 14px; font-size: 12px; font-variant-numeric: tabular-nums; background: #fff; }
table.stats caption { text-align: left; font-weight: 700; font-size: 13px; padding: 4px 0; }
table.stats th, table.stats td { border: 1px solid var(--line); padding: 2px 3px; white-space: nowrap; text-align: right; }
table.stats td.text { text-align: left; }
table.stats thead th { background: #3d4a5c; color: #fff; font-weight: 600; text-align: center; }
table.stats thead tr.labels th { background: #56657a; font-weight: 500; }
tr.row > td:first-child { border-left: 5px solid var(--line); font-weight: 600; max-width: 220px; overflow: hidden; text-overflow: ellipsis; }
tr.state-up > td:first-child { border-left-color: var(--up-edge); }
tr.state-starting > td:first-child { border-left-color: var(--starting-edge); }
tr.state-drain > td:first-child { border-left-color: var(--drain-edge); }
tr.state-maint > td:first-child { border-left-color: var(--maint-edge); }
tr.state-down > td:first-child { border-left-color: var(--down-edge); }
tr.frontend, tr.backend { background: var(--open); font-weight: 700; }
tr.backend.state-down { background: var(--down); }
td.actions { text-align: left; }
button.action { font-size: 11px; padding: 0 4px; margin-right: 1px; cursor: pointer; border: 1px solid #9aa4b2; border-radius: 3px; background: #fff; }
button.action:hover { background: var(--open); }
button.action.drain { border-color: var(--drain-edge); }
button.action.maint { border-color: var(--maint-edge); }
button.action.ready { border-color: var(--up-edge); }
input.weight { width: 40px; font-size: 11px; padding: 0 2px; margin-left: 3px; }
#services { display: grid; grid-template-columns: repeat(auto-fit, minmax(720px, 1fr)); gap: 12px; margin-bottom: 14px; }
section.service { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
section.service h2 { font-size: 15px; margin: 0 0 6px; }
section.service h2 .versions { font-weight: normal; color: var(--muted); font-size: 13px; }
.release-body { display: flex; flex-wrap: wrap; gap: 12px; }
.release-facts { flex: 1 1 300px; min-width: 280px; }
.release-chart { flex: 1 1 420px; margin: 0; }
.release-chart figcaption { color: var(--muted); font-size: 11px; }
.release-line { margin: 0 0 6px; }
.deployment-status { font-weight: 700; padding: 0 5px; border-radius: 3px; }
.status-running, .status-paused { background: var(--starting); }
.status-succeeded { background: var(--up); }
.status-failed, .status-rolled_back, .status-aborted, .status-interrupted { background: var(--down); }
.split { margin: 4px 0 8px; }
.fact-label { font-weight: 600; margin-right: 6px; }
.split-bar { display: flex; height: 14px; border-radius: 3px; overflow: hidden; background: var(--open); margin: 3px 0; }
.split-part { display: block; height: 100%; }
.split-label { font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; vertical-align: -1px; }
ul.instances { margin: 0 0 6px; padding-left: 0; list-style: none; }
ol.steps { margin: 0; padding-left: 22px; color: var(--muted); font-size: 12px; }
ol.steps li.running { color: var(--ink); font-weight: 600; }
ol.steps li.failed { color: #8f1f1a; }
svg.chart { width: 100%; max-width: 640px; height: auto; font-size: 10px; }
svg.chart .panel { fill: #fbfcfd; stroke: var(--line); }
svg.chart .panel-label { fill: var(--muted); font-weight: 600; }
svg.chart .axis, svg.chart .legend-text, svg.chart .chart-empty { fill: var(--muted); }
svg.chart .series { fill: none; stroke-width: 1.6; }
table.history { border-collapse: collapse; margin-top: 8px; font-size: 12px; font-variant-numeric: tabular-nums; }
table.history caption { text-align: left; font-weight: 600; padding: 2px 0; }
table.history th, table.history td { border-bottom: 1px solid var(--line); padding: 2px 8px; text-align: right; white-space: nowrap; }
table.history th { color: var(--muted); font-weight: 600; }
table.history td.text { text-align: left; }
.muted { color: var(--muted); }
`

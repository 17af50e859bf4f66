/**
 * The page script's release chart: an inline SVG drawn from a deployment record's timeline, three stacked panels
 * (requests/s, errors/s, p99) with one line per release. A timeline point stands for the time since the point
 * before it (merged points of a long release stand for more than a second), so counts are divided by that span.
 */
export const CHART_SCRIPT = String.raw`
var CHART_WIDTH = 640
var CHART_LEFT = 48
var CHART_RIGHT = 10
var PANEL_HEIGHT = 62
var PANEL_GAP = 22
var CHART_METRICS = [
  { label: 'requests/s', value: function (sample, span) { return sample.requests / span } },
  { label: 'errors/s', value: function (sample, span) { return sample.errors / span } },
  { label: 'p99 latency (ms)', value: function (sample) { return sample.requests > 0 ? sample.p99_ms : null } },
]

function timelineVersions(timeline) {
  var versions = []
  timeline.forEach(function (point) {
    Object.keys(point.releases).forEach(function (v) {
      if (versions.indexOf(v) < 0) versions.push(v)
    })
  })
  return versions
}

function shortNumber(n) {
  if (n >= 1000) return fmtNum(Math.round(n))
  if (n >= 10) return String(Math.round(n))
  return String(Math.round(n * 10) / 10)
}

function releaseChart(record, colorOf) {
  var timeline = record.timeline || []
  var height = CHART_METRICS.length * (PANEL_HEIGHT + PANEL_GAP) + 16
  var plotWidth = CHART_WIDTH - CHART_LEFT - CHART_RIGHT
  var chart = svgEl('svg', {
    className: 'chart',
    viewBox: '0 0 ' + CHART_WIDTH + ' ' + height,
    role: 'img',
    'aria-label': 'requests, errors and p99 latency per release over time',
    'data-points': timeline.length,
  })
  if (timeline.length === 0) {
    chart.appendChild(svgEl('text', { x: CHART_LEFT, y: 30, className: 'chart-empty', text: 'waiting for the first second of traffic\u2026' }))
    return chart
  }
  var versions = timelineVersions(timeline)
  var t0 = timeline[0].t - 1
  var t1 = timeline[timeline.length - 1].t
  var x = function (t) {
    return CHART_LEFT + ((t - t0) / Math.max(1, t1 - t0)) * plotWidth
  }
  CHART_METRICS.forEach(function (metric, m) {
    var top = 6 + m * (PANEL_HEIGHT + PANEL_GAP)
    var series = versions.map(function (v) {
      return timeline.map(function (point, i) {
        var span = i === 0 ? 1 : Math.max(0.001, point.t - timeline[i - 1].t)
        var sample = point.releases[v]
        return { t: point.t, y: sample ? metric.value(sample, span) : null }
      })
    })
    var max = 0
    series.forEach(function (points) {
      points.forEach(function (p) {
        if (p.y !== null && p.y > max) max = p.y
      })
    })
    var scale = max > 0 ? max : 1
    var y = function (value) {
      return top + PANEL_HEIGHT - (value / scale) * PANEL_HEIGHT
    }
    chart.appendChild(svgEl('rect', { x: CHART_LEFT, y: top, width: plotWidth, height: PANEL_HEIGHT, className: 'panel' }))
    chart.appendChild(svgEl('text', { x: CHART_LEFT + 4, y: top + 12, className: 'panel-label', text: metric.label }))
    chart.appendChild(svgEl('text', { x: CHART_LEFT - 4, y: top + 10, className: 'axis', 'text-anchor': 'end', text: shortNumber(max) }))
    chart.appendChild(svgEl('text', { x: CHART_LEFT - 4, y: top + PANEL_HEIGHT, className: 'axis', 'text-anchor': 'end', text: '0' }))
    series.forEach(function (points, s) {
      var coords = points
        .filter(function (p) {
          return p.y !== null
        })
        .map(function (p) {
          return x(p.t).toFixed(1) + ',' + y(p.y).toFixed(1)
        })
      if (coords.length === 0) return
      if (coords.length === 1) coords.push((CHART_LEFT + plotWidth).toFixed(1) + ',' + coords[0].split(',')[1])
      chart.appendChild(
        svgEl('polyline', { points: coords.join(' '), className: 'series', stroke: colorOf(versions[s]), 'data-release': versions[s], 'data-metric': metric.label }),
      )
    })
  })
  var axisY = height - 4
  chart.appendChild(svgEl('text', { x: CHART_LEFT, y: axisY, className: 'axis', text: '0 s' }))
  chart.appendChild(svgEl('text', { x: CHART_LEFT + plotWidth, y: axisY, className: 'axis', 'text-anchor': 'end', text: Math.round(t1 - t0) + ' s' }))
  var legendX = CHART_LEFT + 80
  versions.forEach(function (v) {
    chart.appendChild(svgEl('rect', { x: legendX, y: axisY - 8, width: 10, height: 10, fill: colorOf(v) }))
    chart.appendChild(svgEl('text', { x: legendX + 14, y: axisY, className: 'legend-text', text: v }))
    legendX += 24 + v.length * 7
  })
  return chart
}
`

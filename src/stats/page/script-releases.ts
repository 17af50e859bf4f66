/**
 * The page script's release panel, one per service: the versions, the running release (strategy, step, split per
 * release, health of the new instances, drain of the old ones), its chart, and the past releases with their cost.
 * The list of deployments is read again only when the running release changes; while one runs, only its live
 * record is read (GET /api/v1/deployments/{id}, in memory on the balancer).
 */
export const RELEASES_SCRIPT = String.raw`
var PALETTE = ['#2f6fb3', '#e07b1a', '#3b9a4a', '#8c4fb8', '#c23b3b', '#1f9aa0']
var releaseState = new Map()
var releaseColors = new Map()

function colorFor(service) {
  var colors = releaseColors.get(service.name)
  if (!colors) {
    colors = new Map()
    releaseColors.set(service.name, colors)
  }
  return function (version) {
    if (!colors.has(version)) colors.set(version, PALETTE[colors.size % PALETTE.length])
    return colors.get(version)
  }
}

function fetchReleases(services) {
  return Promise.all(
    services.map(function (service) {
      var st = releaseState.get(service.name) || { loaded: false, runningId: '', list: [], live: null }
      releaseState.set(service.name, st)
      var runningId = service.deployment ? service.deployment.id : ''
      if (!st.loaded || st.runningId !== runningId) {
        return api('GET', '/api/v1/deployments?service=' + encodeURIComponent(service.name)).then(function (answer) {
          if (!answer.ok) return
          st.list = answer.json.deployments.slice(0, 8)
          st.loaded = true
          st.runningId = runningId
          st.live = null
        })
      }
      if (!runningId) return null
      return api('GET', '/api/v1/deployments/' + encodeURIComponent(runningId)).then(function (answer) {
        if (answer.ok) st.live = answer.json
      })
    }),
  )
}

function runningRecord(st) {
  if (!st.runningId) return null
  if (st.live && st.live.id === st.runningId) return st.live
  return st.list.find(function (r) { return r.id === st.runningId }) || null
}

function renderReleases(services, container) {
  container.hidden = services.length === 0
  container.replaceChildren.apply(container, services.map(servicePanel))
}

function servicePanel(service) {
  var st = releaseState.get(service.name) || { list: [], runningId: '', live: null }
  var colorOf = colorFor(service)
  if (service.version) colorOf(service.version)
  var running = runningRecord(st)
  var shown = running || st.list[0] || null
  var past = st.list.filter(function (r) { return r.status !== 'running' && r.status !== 'paused' })
  return el('section', { className: 'service', 'data-service': service.name }, [
    el('h2', null, [
      'Service ' + service.name + ' ',
      el('span', { className: 'versions', text: 'serving ' + (service.version || '\u2014') + (service.previous ? ' \u00b7 previous ' + service.previous : '') }),
    ]),
    el('div', { className: 'release-body' }, [
      el('div', { className: 'release-facts' }, [
        runningLine(service, running),
        splitBar(service, colorOf),
        instancesList(service, colorOf),
        running ? stepsList(running) : null,
      ]),
      shown
        ? el('figure', { className: 'release-chart' }, [
            releaseChart(shown, colorOf),
            el('figcaption', { text: (running ? 'Running release ' : 'Last release ') + shown.id + ' (' + (shown.from ? shown.from + ' \u2192 ' : '') + shown.to + ')' }),
          ])
        : el('p', { className: 'muted', text: 'No release recorded yet.' }),
    ]),
    past.length > 0 ? historyTable(past) : null,
  ])
}

function runningLine(service, running) {
  var d = service.deployment
  if (!d) return el('p', { className: 'release-line idle', text: 'No release running.' })
  var steps = running ? running.steps : []
  var last = steps.length > 0 ? steps[steps.length - 1] : null
  return el('p', { className: 'release-line running' }, [
    el('strong', { text: (running && running.from ? running.from + ' \u2192 ' : '') + d.to }),
    ' \u00b7 ' + d.strategy + ' \u00b7 ',
    el('span', { className: 'deployment-status status-' + d.status, text: d.status }),
    last ? ' \u00b7 step ' + steps.length + ': ' + last.detail : '',
  ])
}

function splitBar(service, colorOf) {
  var split = service.split
  if (!split || split.length === 0) {
    var rotation = service.rotation ? service.rotation.join(', ') : 'every version'
    return el('p', { className: 'split none', text: 'No split: traffic goes to ' + rotation + '.' })
  }
  var total = split.reduce(function (sum, e) { return sum + Math.max(0, e.weight) }, 0) || 1
  var ordered = split.slice().reverse()
  var bar = el('div', { className: 'split-bar', role: 'img', 'aria-label': 'traffic split' }, ordered.map(function (e) {
    var share = (100 * Math.max(0, e.weight)) / total
    return el('span', { className: 'split-part', style: { width: share.toFixed(2) + '%', background: colorOf(e.release) }, title: e.release + ' ' + e.weight + '%' })
  }))
  var label = el('div', { className: 'split-label' }, ordered.map(function (e, i) {
    return el('span', { className: 'split-entry', 'data-release': e.release }, [
      i > 0 ? ' \u00b7 ' : '',
      el('i', { className: 'swatch', style: { background: colorOf(e.release) } }),
      e.release + ' ' + e.weight + '%',
    ])
  }))
  return el('div', { className: 'split' }, [el('span', { className: 'fact-label', text: 'Split' }), bar, label])
}

function instancesList(service, colorOf) {
  if (service.releases.length === 0) return null
  return el('ul', { className: 'instances' }, service.releases.map(function (r) {
    var states = []
    ;['up', 'starting', 'down', 'drain', 'maint'].forEach(function (key) {
      if (r[key] > 0) states.push(r[key] + ' ' + key.toUpperCase())
    })
    var draining = r.drain > 0 ? ' \u00b7 draining, ' + r.active + ' in flight' : ''
    return el('li', { 'data-release': r.release }, [
      el('i', { className: 'swatch', style: { background: colorOf(r.release) } }),
      el('strong', { text: r.release }),
      ': ' + r.servers + ' server' + (r.servers === 1 ? '' : 's') + (states.length > 0 ? ' \u2014 ' + states.join(', ') : '') + draining,
    ])
  }))
}

function stepsList(record) {
  var steps = record.steps.slice(-5)
  var first = record.steps.length - steps.length
  return el('ol', { className: 'steps', start: first + 1 }, steps.map(function (s) {
    var mark = s.ended_at === undefined ? '\u25b8' : s.result === 'failed' ? '\u2717' : '\u2713'
    var took = s.ended_at === undefined ? '' : ' (' + fmtMs(s.ended_at - s.started_at) + ')'
    return el('li', { className: 'step ' + (s.result || 'running'), title: s.error || '' }, [mark + ' ' + s.detail + took])
  }))
}

function historyTable(records) {
  var head = ['Started', 'Release', 'Strategy', 'Status', 'Duration', 'Requests', 'Errors', 'Peak inst.', 'Extra inst.\u00b7s']
  return el('table', { className: 'history' }, [
    el('caption', { text: 'Past releases and what they cost' }),
    el('thead', null, [el('tr', null, head.map(function (h) { return el('th', { text: h }) }))]),
    el('tbody', null, records.map(function (r) {
      var s = r.summary
      return el('tr', { title: r.error || r.id }, [
        el('td', { className: 'text', text: fmtClock(r.started_at) }),
        el('td', { className: 'text', text: (r.from ? r.from + ' \u2192 ' : '') + r.to }),
        el('td', { className: 'text', text: r.strategy }),
        el('td', { className: 'text' }, [el('span', { className: 'deployment-status status-' + r.status, text: r.status })]),
        el('td', { text: s ? fmtDuration(s.duration_ms / 1000) : '' }),
        el('td', { text: s ? fmtNum(s.requests) : '' }),
        el('td', { text: s ? fmtNum(s.errors) : '' }),
        el('td', { text: s ? fmtNum(s.peak_instances) : '' }),
        el('td', { text: s ? fmtNum(s.extra_instance_seconds) : '' }),
      ])
    })),
  ])
}
`

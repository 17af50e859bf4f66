/**
 * The page script's live updates: it follows GET /api/v1/events and reads /stats.json again after each event
 * (at most every REFRESH_GAP_MS), and every POLL_MS in any case, since counters move without events. The event
 * stream is read with fetch rather than EventSource so that the token can go in a header when reads need it.
 */
export const LIVE_SCRIPT = String.raw`
var REFRESH_GAP_MS = 400
var POLL_MS = 2000
var RECONNECT_MS = 2000
var refreshTimer = null
var refreshing = false
var refreshAgain = false
var lastRefresh = 0
var eventsAbort = null

function requestRefresh() {
  if (refreshTimer !== null) return
  refreshTimer = setTimeout(runRefresh, Math.max(0, lastRefresh + REFRESH_GAP_MS - Date.now()))
}

function runRefresh() {
  refreshTimer = null
  if (refreshing) {
    refreshAgain = true
    return
  }
  refreshing = true
  refresh()
    .catch(function (err) {
      showMessage('error', 'Could not read the statistics: ' + err.message)
    })
    .then(function () {
      refreshing = false
      lastRefresh = Date.now()
      if (refreshAgain) {
        refreshAgain = false
        requestRefresh()
      }
    })
}

function refresh() {
  return api('GET', '/stats.json').then(function (answer) {
    if (!answer.ok) {
      var hint = answer.status === 401 ? ' \u2014 reads need the admin token on this balancer: enter it above.' : ''
      showMessage('error', 'Could not read /stats.json: ' + errorText(answer) + hint)
      return null
    }
    var doc = answer.json
    renderTables(doc.rows, document.getElementById('tables'))
    renderVrrp(doc.ha)
    setText(document.getElementById('updated'), 'updated ' + fmtClock(doc.generated_at))
    return fetchReleases(doc.services).then(function () {
      renderReleases(doc.services, document.getElementById('services'))
    })
  })
}

// The VRRP role badge: shown only on a balancer that keepalived reports to (docs/high-availability.md).
function renderVrrp(ha) {
  var node = document.getElementById('vrrp')
  if (!ha || ha.role === 'unknown') {
    node.hidden = true
    return
  }
  node.hidden = false
  node.className = 'vrrp ' + ha.role.toLowerCase()
  setText(node, 'VRRP ' + ha.role)
  node.title = ha.since ? 'keepalived reported ' + ha.role + ' at ' + fmtClock(ha.since) : ''
}

function setLive(live, text) {
  var node = document.getElementById('live')
  node.className = live ? 'live on' : 'live off'
  setText(node, text)
}

function handleEventBlock(block) {
  var type = 'message'
  block.split(/\r\n|\r|\n/).forEach(function (line) {
    if (line.indexOf('event:') === 0) type = line.slice(6).trim()
  })
  if (type === 'server' || type === 'deployment' || type === 'reload' || type === 'ha') requestRefresh()
}

function followEvents() {
  var controller = new AbortController()
  eventsAbort = controller
  var retry = function () {
    if (controller.signal.aborted) return
    setLive(false, 'reconnecting\u2026')
    setTimeout(function () {
      if (!controller.signal.aborted) followEvents()
    }, RECONNECT_MS)
  }
  fetch('/api/v1/events', { headers: requestHeaders({ accept: 'text/event-stream' }), cache: 'no-store', credentials: 'omit', signal: controller.signal })
    .then(function (res) {
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status)
      setLive(true, 'live')
      requestRefresh()
      var reader = res.body.getReader()
      var decoder = new TextDecoder()
      var buffer = ''
      var pump = function () {
        return reader.read().then(function (chunk) {
          if (chunk.done) return
          buffer += decoder.decode(chunk.value, { stream: true })
          var blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/)
          buffer = blocks.pop()
          blocks.forEach(handleEventBlock)
          return pump()
        })
      }
      return pump()
    })
    .then(retry, retry)
}

function restartEvents() {
  if (eventsAbort) eventsAbort.abort()
  followEvents()
}

function main() {
  setupToken()
  followEvents()
  requestRefresh()
  setInterval(requestRefresh, POLL_MS)
}

main()
`

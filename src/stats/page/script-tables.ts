/**
 * The page script's tables: one for the frontends, one per backend (its BACKEND row, then its servers), with
 * HAProxy's column groups. Rows are kept and updated in place by key, so a refresh neither flickers nor takes
 * away a weight being typed or a button being clicked.
 */
export const TABLES_SCRIPT = String.raw`
function col(group, label, title, value, cellTitle) {
  return { group: group, label: label, title: title, value: value, cellTitle: cellTitle }
}

function num(field) {
  return function (row) {
    return fmtNum(row[field])
  }
}

function bytes(field) {
  return function (row) {
    return fmtBytes(row[field])
  }
}

function statusText(row) {
  if (row.type !== 'server' || row.lastchg === null) return row.status || ''
  return row.status + ' ' + fmtDuration(row.lastchg)
}

function checkText(row) {
  if (row.check_status === null) return ''
  var mark = row.check_status === 'ok' ? '\u2713' : '\u2717'
  var code = row.check_code === null ? '' : ' ' + row.check_code
  return mark + code + ' ' + fmtMs(row.check_duration)
}

function weightText(row) {
  if (row.weight === null) return ''
  return row.weight === row.uweight ? fmtNum(row.weight) : fmtNum(row.weight) + '/' + fmtNum(row.uweight)
}

var COLUMNS = [
  col('', 'Name', 'frontend, backend or server', function (row) {
    return row.type === 'server' ? row.svname : row.pxname
  }, function (row) {
    return row.addr || ''
  }),
  col('', 'Release', 'the version a server runs', function (row) {
    return row.release || ''
  }),
  col('Queue', 'Cur', 'requests waiting for a server now', num('qcur')),
  col('Queue', 'Max', 'most requests waiting at once', num('qmax')),
  col('Queue', 'Limit', 'queue_limit', num('qlimit')),
  col('Rate /s', 'Cur', 'requests in the last second', num('rate')),
  col('Rate /s', 'Max', 'highest rate seen', num('rate_max')),
  col('Sessions', 'Cur', 'requests in flight now', num('scur')),
  col('Sessions', 'Max', 'most requests in flight at once', num('smax')),
  col('Sessions', 'Limit', 'max_connections', num('slim')),
  col('Sessions', 'Total', 'requests since start', num('stot')),
  col('Bytes', 'In', 'request bytes', bytes('bin'), function (row) {
    return fmtNum(row.bin)
  }),
  col('Bytes', 'Out', 'response bytes', bytes('bout'), function (row) {
    return fmtNum(row.bout)
  }),
  col('Errors', 'Req', 'requests refused by the balancer', num('ereq')),
  col('Errors', 'Conn', 'attempts that could not connect', num('econ')),
  col('Errors', 'Resp', 'attempts that failed after connecting', num('eresp')),
  col('Warn', 'Retr', 'retries (each on another server when one is available)', num('wretr')),
  col('Responses', '2xx', 'answers 200-299', num('hrsp_2xx')),
  col('Responses', '3xx', 'answers 300-399', num('hrsp_3xx')),
  col('Responses', '4xx', 'answers 400-499', num('hrsp_4xx')),
  col('Responses', '5xx', 'answers 500-599', num('hrsp_5xx')),
  col('Server', 'Status', 'state, and for how long', statusText),
  col('Server', 'Last check', 'result, code and duration of the last health check', checkText, function (row) {
    return row.check_desc || ''
  }),
  col('Server', 'Wght', 'effective/configured weight (lower while slow start ramps up)', weightText),
  col('Server', 'Act', 'active servers (UP, for a backend)', num('act')),
  col('Server', 'Bck', 'backup servers (UP, for a backend)', num('bck')),
  col('Server', 'Chk', 'failed health checks', num('chkfail')),
  col('Server', 'Dwn', 'transitions from UP to DOWN', num('chkdown')),
  col('Server', 'Dwntme', 'total time DOWN', function (row) {
    return row.downtime === null ? '' : fmtDuration(row.downtime)
  }),
  col('Server', 'Thrtle', 'slow start: share of the weight given now', function (row) {
    return row.throttle === null ? '' : row.throttle + ' %'
  }),
]

var TEXT_COLUMNS = ['Name', 'Release', 'Status', 'Last check']
var tables = new Map()

function headerRows() {
  var groups = el('tr', { className: 'groups' })
  var labels = el('tr', { className: 'labels' })
  var i = 0
  while (i < COLUMNS.length) {
    var span = 1
    while (i + span < COLUMNS.length && COLUMNS[i + span].group === COLUMNS[i].group) span++
    groups.appendChild(el('th', { colspan: span, text: COLUMNS[i].group }))
    i += span
  }
  groups.appendChild(el('th', { text: 'Admin' }))
  COLUMNS.forEach(function (c) {
    labels.appendChild(el('th', { title: c.title, text: c.label }))
  })
  labels.appendChild(el('th', { title: 'needs the admin token', text: 'Actions' }))
  return el('thead', null, [groups, labels])
}

function tableFor(key, caption, container) {
  var entry = tables.get(key)
  if (entry) return entry
  var tbody = el('tbody')
  var captionNode = el('caption', { text: caption })
  var table = el('table', { className: 'stats', 'data-table': key }, [captionNode, headerRows(), tbody])
  container.appendChild(table)
  entry = { table: table, tbody: tbody, caption: captionNode, rows: new Map() }
  tables.set(key, entry)
  return entry
}

function rowFor(entry, key, row) {
  var found = entry.rows.get(key)
  if (found) return found
  var cells = COLUMNS.map(function (c) {
    return el('td', { className: TEXT_COLUMNS.indexOf(c.label) >= 0 ? 'text' : null })
  })
  var tr = el('tr', null, cells)
  tr.appendChild(el('td', { className: 'actions' }, row.type === 'server' ? actionControls(row.pxname, row.svname) : []))
  if (row.type === 'server') tr.dataset.server = row.svname
  tr.dataset.type = row.type
  found = { tr: tr, cells: cells }
  entry.rows.set(key, found)
  return found
}

function updateRow(found, row) {
  var state = String(row.status || '').toLowerCase()
  found.tr.className = 'row ' + row.type + ' state-' + state
  found.tr.dataset.state = row.status || ''
  COLUMNS.forEach(function (c, i) {
    setText(found.cells[i], c.value(row))
    if (c.cellTitle) found.cells[i].title = c.cellTitle(row)
  })
  if (row.type === 'server') {
    var input = found.tr.querySelector('input.weight')
    if (input) input.placeholder = String(row.uweight)
  }
}

/** Puts the rows of a table in the given order, then drops the ones that are gone. */
function syncTable(entry, keyed) {
  var keep = new Set()
  keyed.forEach(function (item, index) {
    keep.add(item.key)
    var found = rowFor(entry, item.key, item.row)
    updateRow(found, item.row)
    if (entry.tbody.children[index] !== found.tr) entry.tbody.insertBefore(found.tr, entry.tbody.children[index] || null)
  })
  entry.rows.forEach(function (found, key) {
    if (keep.has(key)) return
    found.tr.remove()
    entry.rows.delete(key)
  })
}

function renderTables(rows, container) {
  var frontends = rows.filter(function (r) {
    return r.type === 'frontend'
  })
  var seen = new Set(['frontends'])
  syncTable(tableFor('frontends', 'Frontends', container), frontends.map(function (r) {
    return { key: r.pxname, row: r }
  }))
  var backends = []
  rows.forEach(function (r) {
    if (r.type === 'backend') backends.push({ name: r.pxname, summary: r, items: [{ key: '', row: r }] })
    else if (r.type === 'server' && backends.length > 0) backends[backends.length - 1].items.push({ key: r.svname, row: r })
  })
  backends.forEach(function (b) {
    var key = 'backend:' + b.name
    seen.add(key)
    var entry = tableFor(key, '', container)
    entry.table.dataset.backend = b.name
    var servers = b.items.length - 1
    setText(entry.caption, 'Backend ' + b.name + ' \u2014 ' + b.summary.act + ' active and ' + b.summary.bck + ' backup UP, ' + servers + ' server' + (servers === 1 ? '' : 's'))
    syncTable(entry, b.items)
  })
  tables.forEach(function (entry, key) {
    if (seen.has(key)) return
    entry.table.remove()
    tables.delete(key)
  })
}
`

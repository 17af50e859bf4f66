/**
 * The page script's DOM and formatting helpers (browser JavaScript, kept as text: the project builds with tsc
 * alone, for Node). Text only ever enters the page through textContent and setAttribute, never as HTML, so names
 * in any script and any message text render as written and cannot inject markup.
 */
export const DOM_SCRIPT = String.raw`
var NUMBER = new Intl.NumberFormat('en-US')
var SVG_NS = 'http://www.w3.org/2000/svg'

function applyProps(node, props) {
  if (!props) return
  Object.keys(props).forEach(function (key) {
    var value = props[key]
    if (value === null || value === undefined || value === false) return
    if (key === 'text') node.textContent = String(value)
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    else if (key === 'style') Object.assign(node.style, value)
    else if (key.slice(0, 2) === 'on') node.addEventListener(key.slice(2), value)
    else node.setAttribute(key === 'className' ? 'class' : key, value === true ? '' : String(value))
  })
}

function appendAll(node, children) {
  ;(children || []).forEach(function (child) {
    if (child === null || child === undefined || child === false) return
    node.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child)
  })
  return node
}

function el(tag, props, children) {
  var node = document.createElement(tag)
  applyProps(node, props)
  return appendAll(node, children)
}

function svgEl(tag, props, children) {
  var node = document.createElementNS(SVG_NS, tag)
  applyProps(node, props)
  return appendAll(node, children)
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text
}

function fmtNum(n) {
  return n === null || n === undefined ? '' : NUMBER.format(n)
}

function fmtBytes(n) {
  if (n === null || n === undefined) return ''
  var units = ['B', 'kB', 'MB', 'GB', 'TB']
  var i = 0
  while (n >= 1000 && i < units.length - 1) {
    n = n / 1000
    i++
  }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i]
}

function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return ''
  var s = Math.max(0, Math.round(seconds))
  var d = Math.floor(s / 86400)
  var h = Math.floor((s % 86400) / 3600)
  var m = Math.floor((s % 3600) / 60)
  var rest = s % 60
  if (d > 0) return d + 'd' + h + 'h'
  if (h > 0) return h + 'h' + pad2(m) + 'm'
  if (m > 0) return m + 'm' + pad2(rest) + 's'
  return rest + 's'
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return ''
  return ms < 10 ? ms.toFixed(1) + ' ms' : NUMBER.format(Math.round(ms)) + ' ms'
}

function fmtClock(epochMs) {
  var d = new Date(epochMs)
  return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' + pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds())
}

function pad2(n) {
  return n < 10 ? '0' + n : String(n)
}
`

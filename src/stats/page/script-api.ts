/**
 * The page script's access to the admin API. The token lives in sessionStorage (gone with the tab) and is sent
 * only as `Authorization: Bearer`, never as a cookie; requests carry no credentials, so a cookie set by anything
 * else on this host cannot ride along.
 */
export const API_SCRIPT = String.raw`
var TOKEN_KEY = 'switchyard.admin-token'

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || ''
  } catch (e) {
    return ''
  }
}

function storeToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value)
    else sessionStorage.removeItem(TOKEN_KEY)
  } catch (e) {
    // Storage may be disabled; the token then lasts until the page is left.
  }
  memoryToken = value
}

var memoryToken = storedToken()

function requestHeaders(extra) {
  var headers = { accept: 'application/json' }
  if (memoryToken) headers.authorization = 'Bearer ' + memoryToken
  Object.keys(extra || {}).forEach(function (key) {
    headers[key] = extra[key]
  })
  return headers
}

function api(method, path, body) {
  var init = { method: method, cache: 'no-store', credentials: 'omit', headers: requestHeaders(body === undefined ? {} : { 'content-type': 'application/json' }) }
  if (body !== undefined) init.body = JSON.stringify(body)
  return fetch(path, init).then(function (res) {
    return res.text().then(function (text) {
      var json = null
      try {
        json = text === '' ? null : JSON.parse(text)
      } catch (e) {
        json = null
      }
      return { ok: res.ok, status: res.status, json: json }
    })
  })
}

function errorText(answer) {
  var error = answer.json && answer.json.error
  return error ? error.code + ': ' + error.message : 'HTTP ' + answer.status
}

function serverPath(backend, server) {
  return '/api/v1/backends/' + encodeURIComponent(backend) + '/servers/' + encodeURIComponent(server)
}
`

/**
 * The page script's admin actions: the token field, and ready / drain / maint and weight per server. Every action
 * goes to the JSON API; the API decides (a missing or wrong token is refused there, and the page shows why).
 */
export const ACTIONS_SCRIPT = String.raw`
function showMessage(kind, text) {
  var node = document.getElementById('message')
  node.className = 'message ' + kind
  node.textContent = text
}

function actionControls(backend, server) {
  var who = backend + '/' + server
  var buttons = ['ready', 'drain', 'maint'].map(function (admin) {
    return el('button', {
      type: 'button',
      className: 'action ' + admin,
      'data-action': admin,
      title: admin + ' ' + who,
      text: admin,
      onclick: function () {
        changeServer(backend, server, { admin: admin })
      },
    })
  })
  var weight = el('input', { type: 'number', min: 0, max: 256, step: 1, className: 'weight', 'aria-label': 'weight of ' + who })
  var set = el('button', {
    type: 'button',
    className: 'action weight-set',
    'data-action': 'weight',
    title: 'set the weight of ' + who,
    text: 'set',
    onclick: function () {
      var value = Number(weight.value)
      if (weight.value === '' || !Number.isInteger(value) || value < 0 || value > 256) {
        showMessage('error', who + ': the weight must be a whole number from 0 to 256')
        return
      }
      changeServer(backend, server, { weight: value }).then(function () {
        weight.value = ''
      })
    },
  })
  weight.addEventListener('keydown', function (event) {
    if (event.key === 'Enter') set.click()
  })
  return buttons.concat([weight, set])
}

function changeServer(backend, server, change) {
  var who = backend + '/' + server
  var what = change.admin !== undefined ? change.admin : 'weight ' + change.weight
  showMessage('pending', who + ': ' + what + '\u2026')
  return api('POST', serverPath(backend, server), change)
    .then(function (answer) {
      if (!answer.ok) {
        var hint = answer.status === 401 ? (memoryToken ? ' (is the token right?)' : ' (enter the admin token above)') : ''
        showMessage('error', who + ': ' + what + ' refused \u2014 ' + errorText(answer) + hint)
        return
      }
      var s = answer.json
      showMessage('ok', who + ': admin ' + s.admin + ', weight ' + s.weight + ', state ' + s.state)
      requestRefresh()
    })
    .catch(function (err) {
      showMessage('error', who + ': ' + what + ' failed \u2014 ' + err.message)
    })
}

function setupToken() {
  var input = document.getElementById('token')
  var state = document.getElementById('token-state')
  var show = function () {
    setText(state, memoryToken ? 'token set for this tab' : 'read-only: enter the admin token to act')
    state.className = memoryToken ? 'token-state set' : 'token-state'
  }
  var use = function () {
    storeToken(input.value.trim())
    input.value = ''
    show()
    showMessage('ok', memoryToken ? 'Token kept for this tab (sessionStorage); actions send it as a bearer token.' : 'Token forgotten.')
    restartEvents()
    requestRefresh()
  }
  document.getElementById('token-use').addEventListener('click', use)
  input.addEventListener('keydown', function (event) {
    if (event.key === 'Enter') use()
  })
  document.getElementById('token-forget').addEventListener('click', function () {
    input.value = ''
    use()
  })
  show()
}
`

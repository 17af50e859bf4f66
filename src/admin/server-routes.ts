/**
 * The v1 API's state, server and reload endpoints (docs/admin-api.md). Handlers validate their input, then ask
 * the BalancerControl, which validates names and values again and changes nothing when they are wrong.
 */
import { isSwitchyardError, SwitchyardError } from '../errors.js'
import { ok, type AdminReply } from './admin-reply.js'
import type { AdminRequest, AdminRoute } from './admin-router.js'
import { emptyBody, newServerBody, serverChangeBody, validateBody } from './admin-bodies.js'
import { allowOnly, timeoutParam, waitParam } from './admin-query.js'
import type { BalancerControl, DrainOutcome, ServerView } from './balancer-control.js'

export function serverRoutes(control: BalancerControl): AdminRoute[] {
  return [
    { path: '/api/v1/state', methods: { GET: () => ok(control.state()) } },
    {
      path: '/api/v1/backends/:backend/servers',
      methods: {
        POST: async (req) => {
          allowOnly(req.query, [])
          const server = validateBody(newServerBody, await req.readBody())
          return ok(await control.addServer(param(req, 'backend'), server), 201)
        },
      },
    },
    {
      path: '/api/v1/backends/:backend/servers/:server',
      methods: {
        GET: (req) => ok(control.server(param(req, 'backend'), param(req, 'server'))),
        POST: (req) => changeServer(control, req),
        DELETE: async (req) => {
          allowOnly(req.query, ['timeout'])
          const timeoutMs = timeoutParam(req.query)
          const drain = await control.removeServer(param(req, 'backend'), param(req, 'server'), timeoutMs)
          return ok({ removed: true, drain })
        },
      },
    },
    {
      path: '/api/v1/reload',
      methods: {
        POST: async (req) => {
          allowOnly(req.query, [])
          validateBody(emptyBody, await req.readBody())
          await control.reload()
          return ok({ reloaded: true })
        },
      },
    },
  ]
}

/** `?wait=1` on a drain answers once in-flight requests reached 0 or the timeout passed, with the outcome. */
async function changeServer(control: BalancerControl, req: AdminRequest): Promise<AdminReply> {
  allowOnly(req.query, ['wait', 'timeout'])
  const wait = waitParam(req.query)
  const timeoutMs = timeoutParam(req.query)
  const change = validateBody(serverChangeBody, await req.readBody())
  if (wait && change.admin !== 'drain') {
    throw new SwitchyardError('SY_ERR_BAD_REQUEST', { reason: 'wait=1 applies only to {"admin": "drain"}' })
  }
  const backend = param(req, 'backend')
  const server = param(req, 'server')
  const view = await control.changeServer(backend, server, change)
  if (!wait) return ok(view)
  const drain = await control.waitDrained(backend, server, timeoutMs)
  return ok({ ...latestView(control, view), drain } satisfies ServerView & { drain: DrainOutcome })
}

/** The view after the wait; the server may have been removed meanwhile, then the view from before will do. */
function latestView(control: BalancerControl, before: ServerView): ServerView {
  try {
    return control.server(before.backend, before.name)
  } catch (err) {
    if (isSwitchyardError(err, 'SY_ERR_UNKNOWN_SERVER') || isSwitchyardError(err, 'SY_ERR_UNKNOWN_BACKEND')) return before
    throw err
  }
}

function param(req: AdminRequest, name: string): string {
  return req.params[name] ?? ''
}

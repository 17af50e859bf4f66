/**
 * The v1 API's release endpoints (docs/admin-api.md): start a deployment, list and read them, steer one, roll a
 * service back. A release runs in the background, so starting one answers 202 with its record at once; clients
 * follow it with GET /api/v1/deployments/{id}.
 */
import { ok } from './admin-reply.js'
import type { AdminRequest, AdminRoute } from './admin-router.js'
import { deployBody, emptyBody, validateBody } from './admin-bodies.js'
import { allowOnly } from './admin-query.js'
import type { BalancerControl } from './balancer-control.js'

const STEERING = ['pause', 'resume', 'promote', 'abort'] as const

export function deploymentRoutes(control: BalancerControl): AdminRoute[] {
  return [
    {
      path: '/api/v1/deployments',
      methods: {
        GET: async (req) => {
          allowOnly(req.query, ['service'])
          const service = req.query.get('service') ?? undefined
          return ok({ deployments: await control.deployments(service) })
        },
        POST: async (req) => {
          allowOnly(req.query, [])
          const { service, version, strategy } = validateBody(deployBody, await req.readBody())
          return ok(await control.deploy(service, version, strategy), 202)
        },
      },
    },
    {
      path: '/api/v1/deployments/:id',
      methods: { GET: async (req) => ok(await control.deployment(param(req, 'id'))) },
    },
    // One route per action, so that an unknown action is an unknown endpoint (404) like any other typo in a path.
    ...STEERING.map((action): AdminRoute => ({
      path: `/api/v1/deployments/:id/${action}`,
      methods: {
        POST: async (req) => {
          allowOnly(req.query, [])
          validateBody(emptyBody, await req.readBody())
          return ok(await control.steerDeployment(param(req, 'id'), action))
        },
      },
    })),
    {
      path: '/api/v1/services/:service/rollback',
      methods: {
        POST: async (req) => {
          allowOnly(req.query, [])
          validateBody(emptyBody, await req.readBody())
          return ok(await control.rollback(param(req, 'service')), 202)
        },
      },
    },
  ]
}

function param(req: AdminRequest, name: string): string {
  return req.params[name] ?? ''
}

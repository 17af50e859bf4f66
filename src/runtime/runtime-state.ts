import { z } from 'zod'

/**
 * What the admin side changed at run time and what must survive a reload and a restart (invariant 7):
 * admin states and weights per server, servers added and configured servers removed through the API.
 * Keys are "backend/server".
 */
export const runtimeStateSchema = z.object({
  servers: z.record(z.string(), z.object({ admin: z.enum(['ready', 'drain', 'maint']).optional(), weight: z.number().int().min(0).max(256).optional() })),
  added: z.record(
    z.string(),
    z.object({ address: z.string(), weight: z.number().int().min(0).max(256), backup: z.boolean(), max_connections: z.number().int().min(0).optional() }),
  ),
  removed: z.array(z.string()),
  services: z
    .record(
      z.string(),
      z.object({
        /** The release serving traffic (undefined before the first one). */
        version: z.string().optional(),
        /** The release before it, for rollback. */
        previous: z.string().optional(),
        /** Instances started by the provider (process, exec), of any version. */
        instances: z.array(
          z.object({
            id: z.string(),
            service: z.string(),
            version: z.string(),
            address: z.string(),
            pid: z.number().int().optional(),
            started_at: z.number(),
          }),
        ),
        /** Versions in rotation; absent = every version. */
        rotation: z.array(z.string()).optional(),
        /** Canary: the share of requests per version while a split is on. */
        split: z.array(z.object({ release: z.string(), weight: z.number() })).optional(),
        /** Static provider: the version each fixed server runs. */
        server_versions: z.record(z.string(), z.string()).optional(),
      }),
    )
    .default({}),
})

export type RuntimeState = z.infer<typeof runtimeStateSchema>

export type ServiceState = RuntimeState['services'][string]

export function emptyRuntimeState(): RuntimeState {
  return { servers: {}, added: {}, removed: [], services: {} }
}

export function serverKey(backend: string, server: string): string {
  return `${backend}/${server}`
}

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
})

export type RuntimeState = z.infer<typeof runtimeStateSchema>

export function emptyRuntimeState(): RuntimeState {
  return { servers: {}, added: {}, removed: [] }
}

export function serverKey(backend: string, server: string): string {
  return `${backend}/${server}`
}

import type { ServerView, ServiceView, StateView } from '../admin/balancer-control.js'

/** The servers of one version of a service by state: how healthy the new release is, how far the old one drained. */
export interface ReleaseInstances {
  readonly release: string
  readonly servers: number
  readonly up: number
  readonly starting: number
  readonly down: number
  readonly drain: number
  readonly maint: number
  /** Requests in flight on this version's servers (a draining release is done when it reaches 0). */
  readonly active: number
  /** The version's share of requests in percent while a canary split is on, else null. */
  readonly split: number | null
}

export interface ServiceStats extends ServiceView {
  readonly split: readonly { readonly release: string; readonly weight: number }[] | null
  readonly releases: ReleaseInstances[]
}

/** Each service of the state with its backend's split and its servers grouped by version. */
export function serviceStats(state: StateView): ServiceStats[] {
  return state.services.map((service) => {
    const backend = state.backends.find((b) => b.name === service.backend)
    const split = backend?.split ?? null
    const servers = backend?.servers ?? []
    const versions = [...new Set([...(split ?? []).map((e) => e.release), ...servers.flatMap((s) => (s.release === null ? [] : [s.release]))])]
    return {
      ...service,
      split,
      releases: versions.map((release) => instances(release, servers.filter((s) => s.release === release), split)),
    }
  })
}

function instances(release: string, servers: readonly ServerView[], split: ServiceStats['split']): ReleaseInstances {
  const count = (state: ServerView['state']) => servers.filter((s) => s.state === state).length
  return {
    release,
    servers: servers.length,
    up: count('UP'),
    starting: count('STARTING'),
    down: count('DOWN'),
    drain: count('DRAIN'),
    maint: count('MAINT'),
    active: servers.reduce((total, s) => total + s.active, 0),
    split: split === null ? null : (split.find((e) => e.release === release)?.weight ?? 0),
  }
}

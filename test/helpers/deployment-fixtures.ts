import type { DeploymentRecord, ReleaseSample, TimelinePoint } from '../../src/deploy/deployment-record.js'

/** 2026-11-21 21:30:00 UTC, in epoch ms. */
export const T0 = Date.UTC(2026, 10, 21, 21, 30, 0)

export function sample(requests: number, errors = 0, p50_ms = 5, p99_ms = 20): ReleaseSample {
  return { requests, errors, p50_ms, p99_ms }
}

/** A timeline point `second` seconds after T0. */
export function point(second: number, releases: Record<string, ReleaseSample>, instances: Record<string, number>): TimelinePoint {
  return { t: T0 / 1000 + second, releases, instances }
}

/** A finished rolling release v1 -> v2 of "app" with two steps and a four-second timeline. */
export function sampleRecord(overrides: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return {
    id: 'app-20261121-213000-a3f',
    service: 'app',
    from: 'v1',
    to: 'v2',
    strategy: 'rolling',
    status: 'succeeded',
    started_at: T0,
    ended_at: T0 + 4000,
    steps: [
      { kind: 'start', detail: 'start app-v2-1', started_at: T0, ended_at: T0 + 2000, result: 'ok' },
      { kind: 'drain', detail: 'drain app-v1-1', started_at: T0 + 2000, ended_at: T0 + 4000, result: 'ok' },
    ],
    timeline: [
      point(1, { v1: sample(100) }, { v1: 2 }),
      point(2, { v1: sample(100) }, { v1: 2, v2: 1 }),
      point(3, { v1: sample(50), v2: sample(50, 1, 10, 40) }, { v1: 2, v2: 1 }),
      point(4, { v1: sample(0), v2: sample(100, 0, 10, 40) }, { v1: 1, v2: 1 }),
    ],
    ...overrides,
  }
}

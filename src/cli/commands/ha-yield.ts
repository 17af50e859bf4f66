/**
 * `switchyard ha yield` and `switchyard ha reclaim`: the planned move of the VIP before maintenance of the
 * balancer itself. yield writes 1 to the track file (keepalived puts this host into FAULT and the peer takes the
 * VIP), reclaim writes 0 (this host is eligible again; with nopreempt the VIP stays where it is). Both then wait
 * until keepalived's notify confirms the new role here, so that a script can go on to the next step safely.
 *
 * With `--peer URL` (the peer's admin listener), yield first makes sure the peer can take the VIP - it must be
 * BACKUP: yielding to a peer in FAULT would leave the VIP with no balancer at all - and then also waits until the
 * peer reports MASTER.
 */
import { resolve } from 'node:path'
import type { StateView } from '../../admin/balancer-control.js'
import { formatDuration, parseDuration } from '../../config/units.js'
import { resolveStateDir, type StateDirOptions } from '../../ha/ha-paths.js'
import { readRole, roleFilePath, UNKNOWN_ROLE, type HaView, type VrrpRole } from '../../ha/role-file.js'
import { trackFilePath, writeYield } from '../../ha/track-file.js'
import { AdminClient, reportFailure, resolveAdminTarget, UsageError } from '../admin-client.js'

export interface HaYieldOptions extends StateDirOptions {
  readonly trackFile?: string
  /** How long to wait for keepalived's answer; false with --no-wait. */
  readonly wait: string | false
  /** yield: the peer's admin listener, checked before and followed after. */
  readonly peer?: string
  readonly token?: string
}

const POLL_MS = 100

export async function haYieldCommand(action: 'yield' | 'reclaim', opts: HaYieldOptions): Promise<number> {
  try {
    const waitMs = opts.wait === false ? undefined : parseDuration(opts.wait)
    if (opts.wait !== false && waitMs === undefined) throw new UsageError(`--wait '${opts.wait}' is not a duration (write it like 10s)`)
    const stateDir = await resolveStateDir(opts)
    const file = opts.trackFile !== undefined ? resolve(opts.trackFile) : stateDir !== undefined ? trackFilePath(stateDir) : undefined
    if (file === undefined) throw new UsageError("name the balancer's state folder with --state-dir DIR or its configuration with -c FILE (or the track file with --track-file)")
    const peer = action === 'yield' && opts.peer !== undefined ? new AdminClient(await resolveAdminTarget({ admin: opts.peer, token: opts.token, config: opts.config })) : undefined
    const peerRole = async (): Promise<HaView> => (await peer!.get<StateView>('/api/v1/state')).ha ?? UNKNOWN_ROLE
    if (peer !== undefined) {
      const role = (await peerRole()).role
      if (role !== 'BACKUP') {
        process.stderr.write(`the peer (${peer.target.url}) is ${role}, not BACKUP: yielding now would leave the VIP with no balancer; nothing was changed\n`)
        return 1
      }
    }
    const before = stateDir === undefined ? undefined : (await readRole(roleFilePath(stateDir))).view
    await writeYield(file, action === 'yield').catch((err: Error) => {
      throw new UsageError(`cannot write the track file: ${err.message}`)
    })
    const written = `${file}: ${action === 'yield' ? 1 : 0}`
    if (waitMs === undefined) {
      process.stdout.write(`${written}\n`)
      return 0
    }
    const deadline = Date.now() + waitMs
    if (stateDir === undefined || before === undefined || before.role === 'unknown') {
      process.stdout.write(`${written}\nthe VRRP role of this balancer is unknown (no notify from keepalived seen), so the move is not confirmed\n`)
      return 0
    }
    const done = action === 'yield' ? (role: VrrpRole) => role === 'FAULT' : (role: VrrpRole) => role === 'BACKUP' || role === 'MASTER'
    const reached = await waitUntil(async () => (await readRole(roleFilePath(stateDir))).view, done, deadline)
    if (!done(reached.role)) {
      const hint =
        action === 'yield'
          ? `is ${file} the file of keepalived's track_file (switchyard_yield)? It stays written; \`switchyard ha reclaim\` undoes it`
          : 'is the balancer ready? (`switchyard ha check` tells; keepalived stays in FAULT while its check fails)'
      process.stderr.write(`${written}\nkeepalived still reports ${reached.role} after ${formatDuration(waitMs)}: ${hint}\n`)
      return 1
    }
    const next =
      action === 'yield'
        ? peer === undefined
          ? 'the VIP has left this balancer; the peer takes it over (see `switchyard ha role` there)'
          : 'the VIP has left this balancer'
        : 'this balancer is eligible again; the VIP stays where it is until its holder fails or yields'
    process.stdout.write(`${written}\nkeepalived here: ${reached.role}${since(reached)} - ${next}\n`)
    if (peer === undefined) return 0
    const taken = await waitUntil(peerRole, (role) => role === 'MASTER', deadline)
    if (taken.role !== 'MASTER') {
      process.stderr.write(`the peer (${peer.target.url}) is still ${taken.role} after ${formatDuration(waitMs)}, not MASTER\n`)
      return 1
    }
    process.stdout.write(`the peer (${peer.target.url}): MASTER${since(taken)}\n`)
    return 0
  } catch (err) {
    return reportFailure(err)
  }
}

/** Polls until `done` holds or the deadline passed; returns the last view either way. */
async function waitUntil(read: () => Promise<HaView>, done: (role: VrrpRole) => boolean, deadline: number): Promise<HaView> {
  for (;;) {
    const view = await read()
    if (done(view.role) || Date.now() >= deadline) return view
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}

function since(view: HaView): string {
  return view.since === null ? '' : ` since ${new Date(view.since).toISOString()}`
}

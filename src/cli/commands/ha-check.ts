/**
 * `switchyard ha check`: the request keepalived's check script makes (GET /healthz on the admin listener, 200
 * within the timeout), by hand and with the reason when it fails. Exit 0 when it passes, else 1. keepalived
 * itself runs the generated bash script instead: starting node every second is too slow on a loaded machine.
 */
import http from 'node:http'
import https from 'node:https'
import { parseDuration } from '../../config/units.js'
import { reportFailure, resolveAdminTarget, UsageError, type AdminOptions } from '../admin-client.js'

export async function haCheckCommand(opts: AdminOptions & { timeout: string }): Promise<number> {
  try {
    const timeoutMs = parseDuration(opts.timeout)
    if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout '${opts.timeout}' is not a duration (write it like 500ms or 1s)`)
    const { url } = await resolveAdminTarget(opts)
    const started = Date.now()
    const answer = await healthz(`${url}/healthz`, timeoutMs)
    const took = Date.now() - started
    if (answer === 200) {
      process.stdout.write(`ready (HTTP 200 in ${took} ms)\n`)
      return 0
    }
    process.stderr.write(`not ready: ${typeof answer === 'number' ? `HTTP ${answer}` : answer} (${url}/healthz, ${took} ms)\n`)
    return 1
  } catch (err) {
    return reportFailure(err)
  }
}

/** The status code, or why there is none. Never throws; the whole exchange must fit in `timeoutMs`. */
function healthz(url: string, timeoutMs: number): Promise<number | string> {
  return new Promise((resolve) => {
    const client = url.startsWith('https:') ? https : http
    const timer = setTimeout(() => {
      req.destroy()
      resolve(`no answer within ${timeoutMs} ms`)
    }, timeoutMs)
    const req = client.get(url, { agent: false }, (res) => {
      // Only the status matters; draining the body lets the socket close cleanly.
      res.resume()
      res.on('end', () => {
        clearTimeout(timer)
        resolve(res.statusCode ?? 0)
      })
      res.on('error', (err) => {
        clearTimeout(timer)
        resolve(err.message)
      })
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resolve(err.code ?? err.message)
    })
  })
}

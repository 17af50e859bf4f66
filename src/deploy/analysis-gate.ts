import type { Verdict } from './canary-analysis.js'

/** Characters of a refusing gate's answer quoted in the reason (gates often say why they refuse). */
const QUOTED_CHARS = 200

/**
 * Asks a custom gate (a Flagger-style webhook check) whether the canary may go on: POSTs `payload` as JSON to
 * `url`; a 2xx answer passes, anything else fails: another status, no answer within timeoutMs, a network error,
 * an invalid URL or payload. Never throws. A gate is asked once per window and not retried: the next window asks
 * again, and the judge's failure limit already tolerates a passing glitch.
 */
export async function checkGate(url: string, payload: unknown, timeoutMs: number): Promise<Verdict> {
  let gate = url
  try {
    const target = new URL(url)
    // Origin and path only: a query string may carry the gate's token, which does not belong in a release report.
    gate = `${target.origin}${target.pathname}`
    const response = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'switchyard' },
      body: JSON.stringify(payload ?? null),
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await readStart(response).catch(() => '')
    if (response.ok) return { kind: 'pass', summary: `gate ${gate} answered HTTP ${response.status}` }
    return { kind: 'fail', reasons: [`gate ${gate} answered HTTP ${response.status}${text === '' ? '' : `: ${text}`}`] }
  } catch (err) {
    if (err instanceof Error && err.name === 'TimeoutError') return { kind: 'fail', reasons: [`gate ${gate} gave no answer within ${timeoutMs} ms`] }
    return { kind: 'fail', reasons: [`gate ${gate}: ${errorMessage(err)}`] }
  }
}

/** The first QUOTED_CHARS characters of the body, on one line; reads no further, so a huge answer costs nothing. */
async function readStart(response: Response): Promise<string> {
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  try {
    while (text.length < QUOTED_CHARS) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
  } finally {
    await reader.cancel().catch(() => undefined)
  }
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > QUOTED_CHARS ? `${line.slice(0, QUOTED_CHARS)}...` : line
}

function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  // fetch says "fetch failed" and keeps the useful part (ECONNREFUSED, ...) in the cause.
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : ''
  return `${err.message}${cause}`
}

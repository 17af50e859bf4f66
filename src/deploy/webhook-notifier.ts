import type { DeploymentRecord, DeploymentSummary } from './deployment-record.js'
import { summarize } from './deployment-summary.js'
import { formatCount, formatDuration, formatRelease } from './format-report.js'

export type WebhookEventKind = 'started' | 'succeeded' | 'failed' | 'rolled_back' | 'aborted'

export interface WebhookEvent {
  readonly kind: WebhookEventKind
  readonly record: DeploymentRecord
}

/** The JSON body. `text` makes it a valid Slack incoming-webhook message as is; times are epoch ms, like the record. */
export interface WebhookPayload {
  readonly text: string
  readonly event: WebhookEventKind
  readonly deployment: {
    readonly id: string
    readonly service: string
    readonly from: string | null
    readonly to: string
    readonly strategy: string
    readonly status: string
    readonly started_at: number
    readonly ended_at: number | null
    readonly error: string | null
    readonly summary: DeploymentSummary | null
  }
}

export interface WebhookNotifierOptions {
  /** Where failures go (notify never throws); default: process.emitWarning. */
  readonly log?: (message: string) => void
  /** Per attempt; default 5,000. */
  readonly timeoutMs?: number
  /** Default 3. */
  readonly attempts?: number
  /** Wait before the second attempt, doubled for each further one; default 500. */
  readonly backoffMs?: number
}

const ICONS: Record<WebhookEventKind, string> = { started: '🚀', succeeded: '✅', failed: '❌', rolled_back: '↩️', aborted: '🛑' }
const WORDS: Record<WebhookEventKind, string> = {
  started: 'started',
  succeeded: 'succeeded',
  failed: 'failed',
  rolled_back: 'was rolled back',
  aborted: 'was aborted',
}

/** The one human line, e.g. "✅ app v1 → v2 (rolling) succeeded in 42 s: 12,345 requests, 0 errors". */
export function webhookText(event: WebhookEvent): string {
  const { kind, record } = event
  const head = `${ICONS[kind]} ${record.service} ${formatRelease(record)} (${record.strategy}) ${WORDS[kind]}`
  if (kind === 'started') return escapeSlack(head)
  const summary = record.summary ?? summarize(record)
  const traffic = `${counted(summary.requests, 'request')}, ${counted(summary.errors, 'error')}`
  if (kind === 'succeeded') return escapeSlack(`${head} in ${formatDuration(summary.duration_ms)}: ${traffic}`)
  return escapeSlack(`${head} after ${formatDuration(summary.duration_ms)}: ${record.error ?? 'no reason given'} (${traffic})`)
}

export function webhookPayload(event: WebhookEvent): WebhookPayload {
  const r = event.record
  const summary = event.kind === 'started' ? (r.summary ?? null) : (r.summary ?? summarize(r))
  return {
    text: webhookText(event),
    event: event.kind,
    deployment: {
      id: r.id,
      service: r.service,
      from: r.from ?? null,
      to: r.to,
      strategy: r.strategy,
      status: r.status,
      started_at: r.started_at,
      ended_at: r.ended_at ?? null,
      error: r.error ?? null,
      summary,
    },
  }
}

/**
 * Posts deployment events to a webhook. Connection failures, 5xx and 429 are retried with backoff; a timed-out
 * attempt is not (the receiver may have the message already, and a stuck receiver must not hold a release's end
 * for three timeouts), nor is another 4xx (asking again will not help). notify() never throws.
 */
export class WebhookNotifier {
  private readonly log: (message: string) => void
  private readonly timeoutMs: number
  private readonly attempts: number
  private readonly backoffMs: number

  constructor(options: WebhookNotifierOptions = {}) {
    this.log = options.log ?? ((message) => process.emitWarning(message))
    this.timeoutMs = options.timeoutMs ?? 5000
    this.attempts = Math.max(1, options.attempts ?? 3)
    this.backoffMs = options.backoffMs ?? 500
  }

  async notify(url: string, event: WebhookEvent): Promise<void> {
    try {
      await this.post(url, JSON.stringify(webhookPayload(event)), event)
    } catch (err) {
      this.report(`webhook ${event.kind} for deployment ${event.record.id}: ${errorMessage(err)}`)
    }
  }

  private async post(url: string, body: string, event: WebhookEvent): Promise<void> {
    const target = new URL(url) // an invalid URL fails here, once, rather than being retried
    const what = `webhook ${target.origin}${target.pathname} (${event.kind}, deployment ${event.record.id})`
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(target, body)
      if (outcome === 'ok') return
      const last = attempt >= this.attempts || !outcome.retry
      this.report(`${what}: attempt ${attempt} of ${this.attempts} failed: ${outcome.problem}${last ? '; giving up' : ''}`)
      if (last) return
      await new Promise((resolve) => setTimeout(resolve, this.backoffMs * 2 ** (attempt - 1)))
    }
  }

  private async attempt(target: URL, body: string): Promise<'ok' | { retry: boolean; problem: string }> {
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'switchyard' },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      })
      // Read the answer so that the connection can be reused; its content does not matter.
      await response.arrayBuffer().catch(() => undefined)
      if (response.ok) return 'ok'
      const retry = response.status >= 500 || response.status === 429
      return { retry, problem: `HTTP ${response.status}` }
    } catch (err) {
      if (err instanceof Error && err.name === 'TimeoutError') return { retry: false, problem: `no answer within ${this.timeoutMs} ms` }
      return { retry: true, problem: errorMessage(err) }
    }
  }

  private report(message: string): void {
    try {
      this.log(message)
    } catch {
      // A failing log callback must not turn a notification into a failed release.
    }
  }
}

function counted(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`
}

/** Slack treats &, < and > as markup (links, mentions); an error message must show as written. */
function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  // fetch reports "fetch failed" and keeps the useful part (ECONNREFUSED, ...) in the cause.
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : ''
  return `${err.message}${cause}`
}

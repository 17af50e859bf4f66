import type { ServiceConfig } from '../config/schema.js'
import { runCommand } from '../providers/command.js'
import type { DeploymentRecord, StepRecord } from './deployment-record.js'
import type { ServiceHost } from './service-actions.js'
import type { ServiceDeps } from './service-controller.js'
import type { WebhookEventKind } from './webhook-notifier.js'

/**
 * Everything a service says about its releases: the stored record (saved on every change), the events stream,
 * steps that are not part of a plan (hooks, retiring a warm release) and the webhook notifications.
 */
export class DeploymentJournal {
  /** Once the balancer stops, nothing more is written: the record stays as the stop left it. */
  closed = false

  constructor(
    private readonly service: string,
    private readonly config: () => ServiceConfig,
    private readonly host: ServiceHost,
    private readonly deps: ServiceDeps,
  ) {}

  save(record: DeploymentRecord): void {
    if (this.closed) return
    const step = record.steps.at(-1)
    this.host.events.publish('deployment', {
      id: record.id,
      service: record.service,
      from: record.from,
      to: record.to,
      strategy: record.strategy,
      status: record.status,
      step: step === undefined ? null : { kind: step.kind, detail: step.detail, result: step.result ?? null },
      split: this.host.state().split ?? null,
    })
    this.deps.store.save(record).catch((err: unknown) => this.host.log.error({ event: 'deploy.save_failed', err }, 'could not save the deployment'))
  }

  /** Runs one recorded step outside the plan. */
  async step(record: DeploymentRecord, kind: string, detail: string, work: () => Promise<unknown>): Promise<void> {
    const step: StepRecord = { kind, detail, started_at: Date.now() }
    record.steps.push(step)
    this.save(record)
    try {
      await work()
      step.result = 'ok'
    } catch (err) {
      step.result = 'failed'
      step.error = err instanceof Error ? err.message : String(err)
      throw err
    } finally {
      step.ended_at = Date.now()
      this.save(record)
    }
  }

  /** A configured hook command as a recorded step; with SWITCHYARD_SERVICE, _FROM, _TO and _DEPLOYMENT set. */
  async hook(record: DeploymentRecord, which: 'before' | 'after' | 'on_failure'): Promise<void> {
    const config = this.config()
    const command = config.hooks[which]
    if (command === undefined) return
    await this.step(record, 'hook', `${which} hook`, () =>
      runCommand(command, `${which} hook`, {
        timeoutMs: config.strategy.healthy_deadline,
        env: { SWITCHYARD_SERVICE: this.service, SWITCHYARD_FROM: record.from ?? '', SWITCHYARD_TO: record.to, SWITCHYARD_DEPLOYMENT: record.id },
      }),
    )
  }

  async notify(kind: WebhookEventKind, record: DeploymentRecord): Promise<void> {
    const url = this.config().notify?.webhook
    if (url !== undefined) await this.deps.notifier.notify(url, { kind, record })
  }
}

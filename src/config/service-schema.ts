/**
 * `services:` - deployable applications, each bound to a backend (interface.md). A provider starts and stops
 * the instances of a version; a strategy says how one release replaces another.
 */
import { z } from 'zod'
import { DEFAULTS } from './defaults.js'
import { duration, strict } from './schema-parts.js'

const envValue = z.union([z.string(), z.number(), z.boolean()]).transform(String)

const processProvider = strict({
  type: z.literal('process'),
  /** Run with /bin/sh -c; gets PORT, SWITCHYARD_VERSION, SWITCHYARD_INSTANCE and `env` (templated). */
  command: z.string().min(1),
  env: z.record(z.string(), envValue).default({}),
  cwd: z.string().optional(),
  instances: z.number().int().min(1).max(200).default(DEFAULTS.service.provider.instances),
  /** Address the instances listen on (their port is chosen by Switchyard). */
  host: z.string().default('127.0.0.1'),
  stop_timeout: duration.prefault(DEFAULTS.service.provider.stop_timeout),
})

const staticProvider = strict({
  type: z.literal('static'),
  /** Run once per server in a release, templated with {{server}}, {{host}}, {{port}}, {{version}}. */
  deploy_command: z.string().min(1),
  command_timeout: duration.prefault(DEFAULTS.service.provider.command_timeout),
})

const execProvider = strict({
  type: z.literal('exec'),
  /** Prints the new instance's address (host:port) on its last line of output. */
  start_command: z.string().min(1),
  /** Gets the instance's address as {{address}} (and {{host}}, {{port}}, {{version}}). */
  stop_command: z.string().min(1),
  instances: z.number().int().min(1).max(200).default(DEFAULTS.service.provider.instances),
  command_timeout: duration.prefault(DEFAULTS.service.provider.command_timeout),
})

const count = z.union([
  z.number().int().min(1),
  z.string().regex(/^(100|[1-9]\d?)%$/, 'a count (1, 2, ...) or a percentage from 1% to 100%'),
])

const smokeCheck = strict({
  /** A command that must exit 0; gets {{version}} and SWITCHYARD_PREVIEW_HEADER. */
  command: z.string().min(1).optional(),
  /** A path requested on every new instance; the answer must have `expect_status`. */
  path: z.string().startsWith('/').optional(),
  expect_status: z.number().int().min(100).max(599).default(200),
})

const strategySchema = strict({
  type: z.enum(['rolling', 'surge', 'bluegreen', 'canary']).default(DEFAULTS.service.strategy.type),
  drain_timeout: duration.prefault(DEFAULTS.service.strategy.drain_timeout),
  healthy_deadline: duration.prefault(DEFAULTS.service.strategy.healthy_deadline),
  batch: count.default(DEFAULTS.service.strategy.batch),
  max_surge: count.default(DEFAULTS.service.strategy.max_surge),
  keep_previous: duration.prefault(DEFAULTS.service.strategy.keep_previous),
  /** Blue/green: requests with this header set to the new version reach the new release before the switch. */
  preview_header: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid header name').optional(),
  smoke: z.array(smokeCheck).default([]),
  /** Canary: instances of the new version started for the steps (the rest come at promotion). */
  canary_instances: z.number().int().min(1).default(DEFAULTS.service.strategy.canary_instances),
  /** Canary: the share of requests for the new version, step by step; a pause without duration waits for promote. */
  steps: z
    .array(strict({ weight: z.number().min(0).max(100), pause: duration.optional() }))
    .min(1, 'a canary needs at least one step')
    .prefault([{ weight: 10, pause: '1m' }, { weight: 50, pause: '1m' }]),
  analysis: strict({
    interval: duration.prefault(DEFAULTS.service.strategy.analysis.interval),
    min_requests: z.number().int().min(1).default(DEFAULTS.service.strategy.analysis.min_requests),
    failure_limit: z.number().int().min(1).default(DEFAULTS.service.strategy.analysis.failure_limit),
    max_error_rate: z.number().min(0).max(1).default(DEFAULTS.service.strategy.analysis.max_error_rate),
    max_error_rate_increase: z.number().min(0).max(1).default(DEFAULTS.service.strategy.analysis.max_error_rate_increase),
    percentile: z.number().gt(0).lt(100).default(DEFAULTS.service.strategy.analysis.percentile),
    max_latency: duration.optional(),
    max_latency_ratio: z.number().min(1).default(DEFAULTS.service.strategy.analysis.max_latency_ratio),
    min_latency_difference: duration.prefault(DEFAULTS.service.strategy.analysis.min_latency_difference),
    /** A URL that must answer 2xx for a window to pass (a custom gate). */
    webhook: z.url().optional(),
  }).optional(),
  /** Canary: a cookie keeps each client on one release; raising the weight only moves clients to the new one. */
  sticky: strict({ cookie: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid cookie name').default('SY_RELEASE') }).optional(),
  /** Canary: a request with this header set to a version goes to that version (testers). */
  force_header: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid header name').optional(),
})

const hooksSchema = strict({
  before: z.string().min(1).optional(),
  after: z.string().min(1).optional(),
  on_failure: z.string().min(1).optional(),
})

export const servicesSchema = strict({
  backend: z.string(),
  /** The version to run when the balancer starts and the service has no release yet. */
  version: z.union([z.string(), z.number()]).transform(String).optional(),
  provider: z.discriminatedUnion('type', [processProvider, staticProvider, execProvider]),
  strategy: strategySchema.prefault({}),
  hooks: hooksSchema.prefault({}),
  /** A URL that gets JSON at the start, success and failure of every release (Slack-compatible `text`). */
  notify: strict({ webhook: z.url() }).optional(),
})

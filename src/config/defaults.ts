/**
 * Every default of the configuration file, in one place. docs/configuration.md shows the same values;
 * test/config-defaults.test.ts keeps the two in step.
 */
export const DEFAULTS = {
  admin: {
    listen: '127.0.0.1:9900',
  },
  state_dir: '.switchyard',
  workers: 1 as number | 'auto',
  cluster: {
    prefix: '/switchyard',
    lease_ttl: '10s',
    request_timeout: '2s',
  },
  access_log: true,
  access_log_format: 'json',
  frontend: {
    mode: 'http',
    timeouts: {
      client: '30s', // idle time allowed while a client sends a request body or reads a response
      http_request: '10s', // time allowed for a client to send the request line and headers
      keep_alive: '10s', // idle time between two requests on one client connection
    },
    https_redirect: false,
    tls: {
      min_version: 'TLSv1.2',
      http2: true,
    },
    max_header_size: '16kb',
    max_body_size: '0', // 0 = no limit
    trust_request_id: false,
  },
  backend: {
    balance: 'roundrobin',
    hash_key: 'source',
    retries: 2,
    retry_on: ['conn-failure', 'empty-response'],
    retry_buffer: '64kb', // request bodies up to this size are kept so that they can be replayed
    queue_limit: 1000, // requests that may wait at once for a server of one backend
    timeouts: {
      connect: '3s',
      server: '30s', // time to the first response byte, and idle time between response bytes
      queue: '10s',
    },
    max_connections: 0, // per server; 0 = no limit
    drain_timeout: '30s', // WebSocket and TCP connections to a server that left rotation are closed after this
    tls: {
      verify: true,
    },
    passive: {
      consecutive_failures: 5,
      eject_for: '10s',
    },
  },
  server: {
    weight: 1,
    backup: false,
  },
  service: {
    provider: {
      instances: 2,
      stop_timeout: '10s', // process provider: SIGTERM, then SIGKILL after this long
      command_timeout: '5m', // static and exec providers: time allowed for one command
    },
    strategy: {
      type: 'rolling',
      drain_timeout: '30s',
      healthy_deadline: '60s',
      batch: 1,
      max_surge: 1,
      keep_previous: '10m',
      canary_instances: 1,
      analysis: {
        interval: '10s',
        min_requests: 50, // fewer canary requests in a window: not enough data (wait, never fail)
        failure_limit: 2, // consecutive failing windows that abort
        max_error_rate: 0.05,
        max_error_rate_increase: 0.02, // over the stable release's error rate
        percentile: 99,
        max_latency_ratio: 1.5, // canary percentile over the stable one ...
        min_latency_difference: '5ms', // ... unless they differ by less than this
      },
    },
  },
} as const

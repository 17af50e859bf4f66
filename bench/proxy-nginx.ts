/**
 * nginx for bench/proxy, in two roles: the backend (a 12-byte body at /small, 1 MiB at /1mb) and a proxy in front
 * of it (one worker, keep-alive to the upstream). Each instance gets its own configuration, pid file and temp
 * folders in the bench's temp dir, so the system's nginx (if any) is never touched.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startProcess, waitForPort, which, type Managed } from './proxy-processes.js'

/** The parts every instance shares: foreground, one worker, private paths, no logs on the request path. */
function common(dir: string, name: string, http: string): string {
  const own = join(dir, name)
  mkdirSync(own, { recursive: true })
  // nginx started by root runs its worker as nobody, which must be able to read the served files.
  chmodSync(dir, 0o755)
  chmodSync(own, 0o755)
  return `
daemon off;
master_process on;
worker_processes 1;
# 10,000 idle clients plus their upstream connections: the worker needs the fds (the soft limit is raised to the hard one).
worker_rlimit_nofile 40000;
pid ${own}/nginx.pid;
error_log ${own}/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path ${own}/body;
  proxy_temp_path ${own}/proxy;
  fastcgi_temp_path ${own}/fastcgi;
  uwsgi_temp_path ${own}/uwsgi;
  scgi_temp_path ${own}/scgi;
  # The defaults (1000 requests per connection, 75 s idle) would make wrk reconnect mid-run and close idle clients.
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  sendfile on;
  tcp_nopush on;
${http}
}
`
}

async function run(dir: string, name: string, port: number, conf: string): Promise<Managed> {
  const file = join(dir, `${name}.conf`)
  writeFileSync(file, conf)
  // -e: the compiled-in error log is only used before the configuration is read, but must be writable.
  const proc = startProcess(name, which('nginx') ?? 'nginx', ['-p', dir, '-e', join(dir, name, 'startup.log'), '-c', file], { raiseFdLimit: true })
  await waitForPort(port, proc)
  return proc
}

export function startNginxBackend(dir: string, port: number): Promise<Managed> {
  const www = join(dir, 'www')
  mkdirSync(www, { recursive: true })
  chmodSync(www, 0o755)
  writeFileSync(join(www, '1mb'), Buffer.alloc(1 << 20, 'x'), { mode: 0o644 })
  const http = `
  server {
    listen 127.0.0.1:${port} backlog=4096;
    default_type text/plain;
    location = /small { return 200 "hello world\\n"; }
    location = /1mb { root ${www}; }
  }`
  return run(dir, 'nginx-backend', port, common(dir, 'nginx-backend', http))
}

export function startNginxProxy(dir: string, port: number, upstreamPort: number, name = 'nginx-proxy'): Promise<Managed> {
  const http = `
  upstream backend {
    server 127.0.0.1:${upstreamPort};
    keepalive 1024;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backend;
      # HTTP/1.1 without "Connection: close" is what keeps the upstream connections alive.
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # Buffer in memory only: the other proxies stream 1 MB responses and never write them to disk either.
      proxy_max_temp_file_size 0;
    }
  }`
  return run(dir, name, port, common(dir, name, http))
}

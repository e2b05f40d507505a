/**
 * nginx configs for the benchmark: an origin returning the fixed body (`return 200`), a
 * reverse proxy with one worker and keep-alive connections to the origin, and an OTLP/HTTP
 * sink that discards every export. Everything lives in one temporary prefix folder; access
 * logs are off (figway runs at logLevel warn too), but for the sink's, which counts exports.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ORIGIN_BODY } from './body.ts'

/** The nginx binary on PATH (or in /usr/sbin), or undefined. */
export function findNginx (): { bin: string, version: string } | undefined {
  for (const bin of ['nginx', '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    // `nginx -v` prints "nginx version: nginx/1.x.y" on stderr.
    const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5_000 })
    if (r.error !== undefined || r.status !== 0) continue
    const v = /nginx version:\s*(\S+)/.exec(r.stderr + r.stdout)
    return { bin, version: v === null ? 'nginx' : v[1]! }
  }
  return undefined
}

function common (prefix: string, workers: number): string {
  const tmp = join(prefix, 'tmp')
  mkdirSync(tmp, { recursive: true })
  // Workers may run as `nobody` when the master is root: let them traverse the prefix.
  chmodSync(prefix, 0o755)
  chmodSync(tmp, 0o777)
  return `worker_processes ${workers};
daemon off;
master_process on;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 4096; multi_accept on; }
`
}

function httpCommon (prefix: string): string {
  const tmp = join(prefix, 'tmp')
  return `  access_log off;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
`
}

/** Writes `prefix`/nginx.conf: one worker, the common http settings, then `http`'s own blocks. Returns its path. */
function writeConfig (prefix: string, http: string): string {
  mkdirSync(prefix, { recursive: true })
  const file = join(prefix, 'nginx.conf')
  writeFileSync(file, common(prefix, 1) + `http {
${httpCommon(prefix)}${http}}
`)
  return file
}

/** Origin: every listed port answers 200 with the fixed body. Returns the config file. */
export function writeOriginConfig (prefix: string, ports: readonly number[]): string {
  return writeConfig(prefix, `  server {
${ports.map((p) => `    listen 127.0.0.1:${p};`).join('\n')}
    location / {
      default_type application/json;
      return 200 '${ORIGIN_BODY}';
    }
  }
`)
}

/** Reverse proxy with ONE worker to `origin` (host:port), upstream keep-alive. */
export function writeProxyConfig (prefix: string, port: number, origin: string, keepalive: number): string {
  return writeConfig(prefix, `  upstream origin {
    server ${origin};
    keepalive ${keepalive};
    keepalive_requests 1000000;
    keepalive_timeout 75s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }
  }
`)
}

/**
 * OTLP/HTTP collector stand-in: every request's body is read and discarded and answered 200
 * with an empty body (an empty ExportTraceServiceResponse), like bench/otlp-sink.ts but at a
 * fraction of its CPU, which on a 2-core rig is taken from the proxy under test. Each export
 * (a POST) is one line in `sinkLog(prefix)`. nginx answers before it has read the body, so it
 * does not know the body's size: the sink counts exports, not bytes.
 */
export function writeSinkConfig (prefix: string, port: number): string {
  return writeConfig(prefix, `  log_format exports 'export';
  map $request_method $export { POST 1; default 0; }
  client_max_body_size 0;
  server {
    listen 127.0.0.1:${port};
    access_log ${sinkLog(prefix)} exports if=$export;
    location / {
      default_type application/x-protobuf;
      return 200 '';
    }
  }
`)
}

/** The sink's log: one line per export. */
export function sinkLog (prefix: string): string {
  return join(prefix, 'exports.log')
}

/** Exports received, from the sink's log. */
export function sinkStats (prefix: string): { requests: number } {
  let text = ''
  try { text = readFileSync(sinkLog(prefix), 'utf8') } catch { /* nothing received yet */ }
  let requests = 0
  for (const line of text.split('\n')) if (line !== '') requests++
  return { requests }
}

export function nginxArgs (prefix: string, conf: string): string[] {
  return ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', conf]
}

/**
 * nginx configs for the benchmark: an origin returning the fixed body (`return 200`), and a
 * reverse proxy with one worker and keep-alive connections to the origin. Everything lives
 * in one temporary prefix folder; access logs are off (figway runs at logLevel warn too).
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
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

/** Origin: every listed port answers 200 with the fixed body. Returns the config file. */
export function writeOriginConfig (prefix: string, ports: readonly number[]): string {
  mkdirSync(prefix, { recursive: true })
  const file = join(prefix, 'nginx.conf')
  writeFileSync(file, common(prefix, 1) + `http {
${httpCommon(prefix)}  server {
${ports.map((p) => `    listen 127.0.0.1:${p};`).join('\n')}
    location / {
      default_type application/json;
      return 200 '${ORIGIN_BODY}';
    }
  }
}
`)
  return file
}

/** Reverse proxy with ONE worker to `origin` (host:port), upstream keep-alive. */
export function writeProxyConfig (prefix: string, port: number, origin: string, keepalive: number): string {
  mkdirSync(prefix, { recursive: true })
  const file = join(prefix, 'nginx.conf')
  writeFileSync(file, common(prefix, 1) + `http {
${httpCommon(prefix)}  upstream origin {
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
}
`)
  return file
}

export function nginxArgs (prefix: string, conf: string): string[] {
  return ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', conf]
}

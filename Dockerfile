# figway container image.
#
#   docker build -t figway .
#   docker run --rm -p 8080:8080 -p 9901:9901 -e MONOLITH_URL=http://host.docker.internal:3001 figway
#
# Stages:
#   build    npm ci (all dependencies) and tsc → dist/
#   deps     npm ci --omit=dev: the production node_modules only
#   runtime  node:24 slim + node_modules + dist + bin, running as a non-root user
#
# Multi-arch (Graviton): `docker buildx build --platform linux/amd64,linux/arm64 .` — the
# build stage runs on the builder's own platform (its output is plain JavaScript); the deps
# stage runs on the target platform so that any native module would be built for it.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /app
# The lockfile alone decides the dependency layer, so source edits reuse it.
# npm ci honours package.json's "allowScripts" where npm supports it; the `node` devDependency
# (which gives npm scripts Node 24 on machines with an older node) fetches its binary here,
# and is not part of the runtime image.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc compiles src/ to dist/ (tsconfig.build.json). Any non-TypeScript file under src/
# (templates, bundled protos, JSON read at run time) is copied beside the compiled code.
RUN npm run build \
 && cd src && find . -type f ! -name '*.ts' -exec cp --parents {} ../dist/ \; \
 && test -f ../dist/cli.js

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

LABEL org.opencontainers.image.title="figway" \
      org.opencontainers.image.description="Strangler-fig edge gateway" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV NODE_ENV=production
# glibc gives each thread that allocates its own malloc arena (up to 8 per core): V8's GC
# helpers and libuv's pool threads each keep pages of their own. With two arenas figway's
# resident memory under 1,000 client connections was 0–8 MiB lower in alternating runs, at
# no measured CPU cost (bench/README.md). `npm run bench` and `npm run soak` set it as well.
ENV MALLOC_ARENA_MAX=2

# npm, npx, corepack and yarn are not needed at run time; removing them keeps the image's
# attack surface (and vulnerability-scanner noise) down. `node` itself stays.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*

WORKDIR /app
# Everything is owned by root and only readable by the process user: figway never writes to
# its own files (Kubernetes runs it with a read-only root filesystem as well).
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# bin/figway.mjs runs dist/cli.js when present (it is, here), else the TypeScript sources.
COPY bin ./bin
# The google/api and google/rpc protos figway falls back on when a routes folder lacks them.
COPY routes/protos/google ./routes/protos/google

# A default config so that the image runs on its own (`docker run`): the repository's
# config/gateway.yaml with the routes folder moved beside it. In Kubernetes both are
# replaced by ConfigMaps mounted at the same paths (deploy/base/deployment.yaml).
COPY config/gateway.yaml /etc/figway/gateway.yaml
COPY routes /etc/figway/routes
RUN sed -i 's#^routes:.*$#routes:  /etc/figway/routes#' /etc/figway/gateway.yaml \
 && grep -q '^routes:  /etc/figway/routes$' /etc/figway/gateway.yaml \
 && node bin/figway.mjs validate --config /etc/figway/gateway.yaml

# The official image's `node` user, given by number so that Kubernetes' runAsNonRoot can
# verify it is not root without looking up a name.
USER 1000:1000

# 8080: data port (the ALB's target). 9901: ops port (health, readiness, metrics, admin API),
# never exposed through the load balancer.
EXPOSE 8080 9901

# No HEALTHCHECK: in production Kubernetes probes the ops port itself (startup and liveness on
# /healthz, readiness on /readyz; see deploy/base/deployment.yaml), and a Docker HEALTHCHECK
# would be ignored there. Locally: curl http://localhost:9901/readyz
#
# Exec form, so node is PID 1 and receives SIGTERM directly: figway turns /readyz to 503,
# waits shutdown.drainDelay, finishes in-flight requests (up to shutdown.timeout) and exits 0.
# figway starts no child processes, so no init process is needed to reap them.
#
# --max-semi-space-size=8 (MiB): V8 sizes the young generation from the host's memory, up to
# 64 MiB semi-spaces on a large node, which a proxy's short-lived request objects fill and
# empty without need: with 8 MiB, peak RSS under load is about 35 MiB lower and the CPU per
# request unchanged (bench/README.md). `npm run bench` starts figway with these same flags.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--max-semi-space-size=8", "/app/bin/figway.mjs"]
# Other commands: `docker run figway validate --config /etc/figway/gateway.yaml`,
# `docker run figway explain GET /api/orders/7 --config /etc/figway/gateway.yaml`.
CMD ["serve", "--config", "/etc/figway/gateway.yaml"]

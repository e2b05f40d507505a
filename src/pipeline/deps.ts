/** What the pipeline stages need from the running gateway, built once by app.ts. */
import type { GatewayConfig } from '../config/load.ts'
import type { RouteStore } from '../routing/store.ts'
import type { WeightSource } from '../routing/weights.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { Metrics } from '../telemetry/metrics.ts'
import type { Tracing } from '../telemetry/tracing.ts'
import type { HttpUpstreams } from '../upstream/http.ts'
import type { GrpcUpstreams } from '../upstream/grpc.ts'
import type { Guards } from '../resilience/guards.ts'

export interface GatewayState {
  /** SIGTERM received: readiness is 503 and responses carry `Connection: close`. */
  draining: boolean
  /** Requests on the data port that have not completed. */
  inflight: number
  /** Called each time inflight drops to 0 while draining. */
  onIdle: (() => void) | null
}

export interface PipelineDeps {
  readonly config: GatewayConfig
  readonly store: RouteStore
  readonly weights: WeightSource
  readonly upstreams: HttpUpstreams
  readonly grpc: GrpcUpstreams
  readonly guards: Guards
  readonly metrics: Metrics
  readonly tracing: Tracing
  readonly logger: Logger
  readonly state: GatewayState
  /** True when the connected peer is a trusted proxy whose X-Forwarded-* headers we keep. */
  readonly trustedPeer: (address: string) => boolean
}

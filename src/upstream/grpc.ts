/**
 * gRPC upstreams: one long-lived @grpc/grpc-js channel per gRPC backend, keyed by the
 * backend's fingerprint so a reload keeps the channels (and their HTTP/2 connections) of
 * unchanged backends; channels of removed or changed backends close once their calls end.
 * Messages are already encoded by the transcoder, so the channel moves bytes only.
 */
import type { ChannelOptions, Client } from '@grpc/grpc-js'
import type { Channel } from '@grpc/grpc-js/build/src/channel.js'
import type { Backend, RouteTable } from '../routing/table.ts'
import { grpcSupport } from '../transcode/support.ts'

/** Keepalive pings find dead connections behind NAT and load balancers; reconnects back off. */
const CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 5_000,
  // figway owns retries (spec §3): the channel must not replay calls itself.
  'grpc.enable_retries': 0,
  // figway's own metrics cover the calls; channelz would count each one a second time.
  'grpc.enable_channelz': 0,
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1
}

export class GrpcUpstreams {
  #clients = new Map<string, Client>()

  /** The channel for a gRPC backend; created on first use. */
  channel (b: Backend): Channel {
    return this.#client(b).getChannel()
  }

  #client (b: Backend): Client {
    let c = this.#clients.get(b.fingerprint)
    if (c === undefined) {
      const spec = b.grpc!
      const { Client, credentials } = grpcSupport()
      c = new Client(spec.target, spec.tls ? credentials.createSsl() : credentials.createInsecure(), CHANNEL_OPTIONS)
      this.#clients.set(b.fingerprint, c)
    }
    return c
  }

  /** After a table swap: closes channels that no backend of the new table uses. */
  retain (table: RouteTable): number {
    const keep = new Set<string>()
    for (const b of table.backends.values()) if (b.kind === 'grpc') keep.add(b.fingerprint)
    let closed = 0
    for (const [fp, c] of this.#clients) {
      if (!keep.has(fp)) {
        this.#clients.delete(fp)
        // grpc-js lets calls in progress finish, then closes the connections.
        c.close()
        closed++
      }
    }
    return closed
  }

  /** The channel's connectivity state name, for /admin/backends. */
  state (b: Backend): string | undefined {
    const c = this.#clients.get(b.fingerprint)
    if (c === undefined) return undefined
    const names = ['idle', 'connecting', 'ready', 'transient_failure', 'shutdown']
    return names[c.getChannel().getConnectivityState(false)]
  }

  close (): void {
    for (const c of this.#clients.values()) c.close()
    this.#clients.clear()
  }
}

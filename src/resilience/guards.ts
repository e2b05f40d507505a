/**
 * Per-backend resilience state that outlives any one request and survives reloads while the
 * backend's policy is unchanged: its circuit breaker, retry budget and in-flight count
 * (the bulkhead behind `maxInFlight`).
 */
import type { Policy } from '../config/policy.ts'
import type { Backend, RouteTable } from '../routing/table.ts'
import { Breaker, type BreakerState } from './breaker.ts'
import { RetryBudget } from './budget.ts'

export class BackendGuard {
  readonly name: string
  readonly breaker: Breaker
  readonly budget: RetryBudget
  readonly key: string
  inflight = 0
  maxInFlight: number

  constructor (name: string, policy: Policy, key: string) {
    this.name = name
    this.key = key
    this.breaker = new Breaker(name, policy.breaker)
    this.budget = new RetryBudget(policy.retry.budgetRatio, policy.retry.budgetMinPerSecond)
    this.maxInFlight = policy.maxInFlight
  }
}

export class Guards {
  readonly #byName = new Map<string, BackendGuard>()
  onBreakerState: ((backend: string, state: BreakerState) => void) | null = null

  /** The guard for a backend, created on first use. */
  get (b: Backend): BackendGuard {
    const g = this.#byName.get(b.name)
    if (g !== undefined) return g
    return this.#create(b)
  }

  #create (b: Backend): BackendGuard {
    const p = b.policy
    const g = new BackendGuard(b.name, p, guardKey(p))
    g.breaker.onStateChange = (state) => this.onBreakerState?.(b.name, state)
    this.#byName.set(b.name, g)
    return g
  }

  /** After a table swap: keeps guards of unchanged backends, replaces changed ones, drops removed ones. */
  retain (table: RouteTable): void {
    for (const [name, g] of this.#byName) {
      const b = table.backends.get(name)
      if (b === undefined || guardKey(b.policy) !== g.key) {
        g.breaker.close()
        this.#byName.delete(name)
      } else {
        g.maxInFlight = b.policy.maxInFlight
      }
    }
  }

  all (): IterableIterator<BackendGuard> { return this.#byName.values() }

  close (): void {
    for (const g of this.#byName.values()) g.breaker.close()
    this.#byName.clear()
  }
}

function guardKey (p: Policy): string {
  return JSON.stringify([p.breaker, p.retry.budgetRatio, p.retry.budgetMinPerSecond])
}

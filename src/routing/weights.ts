/**
 * Runtime weight overrides (spec §2.2): set through the ops API, they override a route's
 * file weights until cleared, and survive reloads. This is the interface the shared (Redis)
 * store implements too; the in-process store below is the single-replica implementation.
 */
export type WeightMap = Readonly<Record<string, number>>

export interface WeightSource {
  /** The override for a route, or undefined. Called on the request path: must be a plain read. */
  get (route: string): WeightMap | undefined
  /** Every current override. */
  all (): ReadonlyMap<string, WeightMap>
  set (route: string, weights: WeightMap): Promise<void>
  clear (route: string): Promise<void>
  /** Called after any change, with the route whose weights changed. */
  onChange (listener: (route: string) => void): void
  close (): Promise<void>
}

export class InProcessWeights implements WeightSource {
  #map = new Map<string, WeightMap>()
  #listeners: Array<(route: string) => void> = []

  get (route: string): WeightMap | undefined { return this.#map.get(route) }
  all (): ReadonlyMap<string, WeightMap> { return this.#map }

  async set (route: string, weights: WeightMap): Promise<void> {
    this.#map.set(route, Object.freeze({ ...weights }))
    this.#emit(route)
  }

  async clear (route: string): Promise<void> {
    if (this.#map.delete(route)) this.#emit(route)
  }

  onChange (listener: (route: string) => void): void { this.#listeners.push(listener) }
  async close (): Promise<void> { this.#listeners = [] }

  #emit (route: string): void { for (const l of this.#listeners) l(route) }
}

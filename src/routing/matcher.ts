/**
 * The route lookup: a segment trie built once per table. A lookup walks literal children
 * and one-segment wildcards, collects routes that end at the path's end or own a `**` on
 * the way, and keeps the one with the lowest `order` (the table pre-sorts routes by
 * specificity, priority, file and position, so the lowest order is the winner).
 */
export interface Matchable {
  readonly order: number
  readonly segments: ReadonlyArray<{ readonly kind: 'literal', readonly value: string } | { readonly kind: 'param' | 'star' }>
  readonly rest: boolean
}

interface TrieNode<R> {
  literal: Map<string, TrieNode<R>> | null
  any: TrieNode<R> | null
  /** Routes whose pattern ends here, sorted by order. */
  end: R[]
  /** Routes whose pattern ends here with `**`, sorted by order. */
  rest: R[]
}

const newNode = <R>(): TrieNode<R> => ({ literal: null, any: null, end: [], rest: [] })

export class Matcher<R extends Matchable> {
  readonly #root: TrieNode<R>

  constructor (routes: readonly R[]) {
    this.#root = newNode<R>()
    for (const r of routes) {
      let node = this.#root
      for (const s of r.segments) {
        if (s.kind === 'literal') {
          node.literal ??= new Map()
          let next = node.literal.get(s.value)
          if (next === undefined) { next = newNode<R>(); node.literal.set(s.value, next) }
          node = next
        } else {
          node = node.any ??= newNode<R>()
        }
      }
      ;(r.rest ? node.rest : node.end).push(r)
    }
    sortAll(this.#root)
  }

  /**
   * Returns the best route for the path segments whose extra conditions `accept` allows.
   * `accept` checks method, host and headers; it is called only on path matches, best first
   * within each trie node.
   */
  find (segs: readonly string[], accept: (r: R) => boolean): R | undefined {
    let best: R | undefined
    const walk = (node: TrieNode<R>, i: number): void => {
      for (const r of node.rest) {
        if (best !== undefined && r.order >= best.order) break
        if (accept(r)) { best = r; break }
      }
      if (i === segs.length) {
        for (const r of node.end) {
          if (best !== undefined && r.order >= best.order) break
          if (accept(r)) { best = r; break }
        }
        return
      }
      const seg = segs[i]!
      if (node.literal !== null) {
        const next = node.literal.get(seg)
        if (next !== undefined) walk(next, i + 1)
      }
      if (node.any !== null && seg !== '') walk(node.any, i + 1)
    }
    walk(this.#root, 0)
    return best
  }

  /** Every route whose path pattern matches, best first (for explain). */
  candidates (segs: readonly string[]): R[] {
    const out: R[] = []
    const walk = (node: TrieNode<R>, i: number): void => {
      out.push(...node.rest)
      if (i === segs.length) { out.push(...node.end); return }
      const next = node.literal?.get(segs[i]!)
      if (next !== undefined) walk(next, i + 1)
      if (node.any !== null && segs[i] !== '') walk(node.any, i + 1)
    }
    walk(this.#root, 0)
    return out.sort((a, b) => a.order - b.order)
  }
}

function sortAll<R extends Matchable> (n: TrieNode<R>): void {
  n.end.sort((a, b) => a.order - b.order)
  n.rest.sort((a, b) => a.order - b.order)
  if (n.literal !== null) for (const c of n.literal.values()) sortAll(c)
  if (n.any !== null) sortAll(n.any)
}

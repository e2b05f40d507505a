/**
 * Route-file YAML for tests. Line numbers matter to tests that check where an error or a
 * route is reported, so each builder writes one key per line in a fixed order.
 */

/**
 * One backend and one route to it: backend `backend` at `url` (line 2), route `route`
 * matching `path` (line 4) and sending it to `to`, by default the backend itself.
 */
export const routeFile = (backend: string, url: string, route: string, path: string, to = backend): string =>
  `backends:\n  ${backend}: { url: "${url}" }\nroutes:\n  - name: ${route}\n    match: { path: ${path} }\n    to: ${to}\n`

/** Backend and route `monolith` at `url`, taking every path (`/**`): the catch-all of a strangler table. */
export const monolithFile = (url: string): string => routeFile('monolith', url, 'monolith', '/**')

/**
 * A `backends:` block with one backend per entry of `origins`, named as its key, followed by
 * `routes:` and the YAML list `routes` (indented lines, ending in a newline).
 */
export function routesFile (origins: Readonly<Record<string, { readonly url: string }>>, routes: string): string {
  const backends = Object.entries(origins).map(([name, o]) => `  ${name}: { url: "${o.url}" }`)
  return `backends:\n${backends.join('\n')}\nroutes:\n${routes}`
}

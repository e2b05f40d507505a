/** The fixed response body of every benchmark origin (Node and nginx), and the request path. */
export const ORIGIN_BODY = '{"ok":true,"service":"origin","items":[1,2,3],"note":"fixed benchmark body"}'

/** Every scenario requests the same path; through figway it matches the catch-all route. */
export const REQUEST_PATH = '/api/items/42?view=compact'

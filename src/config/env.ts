/**
 * `${NAME}` and `${NAME:-default}` expansion in string values (spec §2). An unset variable
 * without a default is an error rather than an empty string: a missing secret should stop
 * the gateway at load, not silently open an ops port without a token.
 */
const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}/g

export function expandEnv (value: string, env: NodeJS.ProcessEnv, missing: (name: string) => void): string {
  if (!value.includes('${')) return value
  return value.replace(REF, (_m, name: string, hasDefault: string | undefined, def: string | undefined) => {
    const v = env[name]
    if (v !== undefined && (v !== '' || hasDefault === undefined)) return v
    if (hasDefault !== undefined) return def ?? ''
    missing(name)
    return ''
  })
}

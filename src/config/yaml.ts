/**
 * YAML loading that remembers where each value came from, so that every config error can
 * name file, line and column. Uses the `yaml` package's Document API and LineCounter.
 */
import { readFileSync } from 'node:fs'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml'
import type { ConfigIssue } from '../errors.ts'
import { expandEnv } from './env.ts'

export interface SourceDoc {
  file: string
  /** The plain JS value, with `${ENV}` expanded in string scalars. */
  value: unknown
  /** Line and column (1-based) of the node at `path`, or of its nearest existing parent. */
  locate (path: ReadonlyArray<PropertyKey>): { line: number, col: number }
}

/** Reads and parses one YAML file; syntax errors and unset variables come back as issues. */
export function loadYamlFile (file: string, displayName: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): SourceDoc | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    issues.push({ file: displayName, line: 1, col: 1, path: '', message: `cannot read file: ${(err as Error).message}` })
    return undefined
  }
  return parseYaml(text, displayName, env, issues)
}

export function parseYaml (text: string, displayName: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): SourceDoc | undefined {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const at = (offset: number): { line: number, col: number } => {
    const p = lineCounter.linePos(offset)
    return { line: p.line, col: p.col }
  }
  if (doc.errors.length > 0) {
    for (const e of doc.errors) issues.push({ file: displayName, ...at(e.pos[0]), path: '', message: e.message.split('\n')[0]! })
    return undefined
  }
  const before = issues.length
  expandScalars(doc, env, (name, offset) => {
    issues.push({ file: displayName, ...at(offset), path: '', message: `environment variable ${name} is not set (write \${${name}:-} for an empty default)` })
  })
  if (issues.length > before) return undefined
  const locate = (path: ReadonlyArray<PropertyKey>): { line: number, col: number } => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined
      if (node !== undefined && node !== null && typeof node === 'object' && node.range !== undefined) {
        // For a key path, point at the key itself rather than its value where we can.
        const pair = n > 0 ? findPair(doc, path.slice(0, n)) : undefined
        return at(pair ?? node.range[0])
      }
    }
    return { line: 1, col: 1 }
  }
  return { file: displayName, value: doc.toJS({ maxAliasCount: 100 }), locate }
}

function findPair (doc: Document, path: ReadonlyArray<PropertyKey>): number | undefined {
  const parent = doc.getIn(path.slice(0, -1) as unknown[], true)
  const key = path[path.length - 1]
  if (!isMap(parent)) return undefined
  for (const item of parent.items) {
    if (isScalar(item.key) && item.key.value === key && item.key.range !== undefined && item.key.range !== null) return item.key.range[0]
  }
  return undefined
}

function expandScalars (doc: Document, env: NodeJS.ProcessEnv, missing: (name: string, offset: number) => void): void {
  const visit = (node: unknown): void => {
    if (isMap(node)) { for (const item of node.items) visit(item.value); return }
    if (isSeq(node)) { for (const item of node.items) visit(item); return }
    if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      const offset = node.range?.[0] ?? 0
      node.value = expandEnv(node.value, env, (name) => missing(name, offset))
    }
  }
  visit(doc.contents)
}

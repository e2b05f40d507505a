/**
 * Loads .proto files for REST → gRPC transcoding (spec §2.6): protobufjs parses the text and
 * reads each method's `google.api.http` option; the same files then become a
 * @bufbuild/protobuf registry, whose JSON codec follows the proto3 JSON mapping exactly.
 */
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import protobuf from 'protobufjs'
import pbDescriptor from 'protobufjs/ext/descriptor/index.js'
import { create, createFileRegistry, fromBinary, type FileRegistry } from '@bufbuild/protobuf'
import { protoCamelCase } from '@bufbuild/protobuf/reflect'
import {
  FieldDescriptorProto_Label, FieldOptionsSchema, FileDescriptorSetSchema, file_google_protobuf_any, file_google_protobuf_api,
  file_google_protobuf_descriptor, file_google_protobuf_duration, file_google_protobuf_empty,
  file_google_protobuf_field_mask, file_google_protobuf_source_context, file_google_protobuf_struct,
  file_google_protobuf_timestamp, file_google_protobuf_type, file_google_protobuf_wrappers,
  type DescriptorProto, type FileDescriptorProto
} from '@bufbuild/protobuf/wkt'

/** The `google.api.http` option as written (proto field names), additional_bindings always an array. */
export interface HttpRuleOption {
  selector?: string
  get?: string
  put?: string
  post?: string
  delete?: string
  patch?: string
  custom?: { kind?: string, path?: string }
  body?: string
  response_body?: string
  additional_bindings?: HttpRuleOption[]
}

/** One RPC method: names, message type names (no leading dot), streaming and its HTTP rule. */
export interface MethodInfo {
  name: string
  /** `pkg.Service/Method`, the gRPC path without its leading slash. */
  fullName: string
  inputType: string
  outputType: string
  clientStreaming: boolean
  serverStreaming: boolean
  httpRule: HttpRuleOption | undefined
  /** The .proto file declaring the method, and the line of its `rpc` (for load errors). */
  file: string
  line: number | undefined
}

/** A service by full name (`pkg.Service`), its methods in declaration order. */
export interface ServiceInfo {
  fullName: string
  methods: MethodInfo[]
}

/** What `loadProtos` returns: the codec's registry and the services to bind. */
export interface LoadedProtos {
  registry: FileRegistry
  services: Map<string, ServiceInfo>
}

/** A proto file that cannot be loaded, located where protobufjs says (line when known). */
export class ProtoLoadError extends Error {
  readonly file: string
  readonly line: number | undefined
  constructor (file: string, line: number | undefined, message: string, cause?: unknown) {
    super(`${file}${line === undefined ? '' : ':' + line}: ${message}`, { cause })
    this.name = 'ProtoLoadError'
    this.file = file
    this.line = line
  }
}

// protobufjs bundles most google/protobuf/*.proto files as JSON ("common"), but not
// descriptor.proto, which google/api/annotations.proto imports; its package ships the text.
const PROTOBUFJS_DIR = path.dirname(createRequire(import.meta.url).resolve('protobufjs/package.json'))

// The registry takes google/protobuf/* from @bufbuild/protobuf so the WKT JSON forms are its own.
const WKT_FILES = [
  file_google_protobuf_descriptor, file_google_protobuf_any, file_google_protobuf_duration,
  file_google_protobuf_empty, file_google_protobuf_field_mask, file_google_protobuf_struct,
  file_google_protobuf_timestamp, file_google_protobuf_wrappers, file_google_protobuf_source_context,
  file_google_protobuf_type, file_google_protobuf_api
]

/** Parses `files` (resolved against `includeDirs`) into services with HTTP rules and a registry. */
export function loadProtos (files: string[], includeDirs: string[]): LoadedProtos {
  const root = parse(files, includeDirs)
  const services = new Map<string, ServiceInfo>()
  collectServices(root, services)
  return { registry: buildRegistry(root), services }
}

function findFile (target: string, dirs: string[]): string | undefined {
  if (path.isAbsolute(target)) return fs.existsSync(target) ? target : undefined
  for (const dir of dirs) {
    const candidate = path.resolve(dir, target)
    if (fs.existsSync(candidate)) return candidate
  }
  return undefined
}

function parse (files: string[], includeDirs: string[]): protobuf.Root {
  const root = new protobuf.Root()
  // protobufjs fetches and parses each file right after resolving its name, so the last
  // name resolved is the file a parse error is in (its messages do not always say).
  let current = '<protos>'
  root.resolvePath = (origin, target) => {
    // Imports resolve against the include dirs, then beside the importing file (protoc's
    // rule plus protobufjs's), then the google/protobuf files protobufjs ships. Its copies of
    // google/api/*.proto are not used: routes/protos/ ships the ones the services import.
    const dirs = origin === '' ? ['.', ...includeDirs] : [...includeDirs, path.dirname(origin)]
    if (target.startsWith('google/protobuf/')) dirs.push(PROTOBUFJS_DIR)
    current = findFile(target, dirs) ?? target
    return current
  }
  try {
    root.loadSync(files, { keepCase: true })
    root.resolveAll()
  } catch (err) {
    throw locateError(root, err as Error & { code?: string, path?: string }, current)
  }
  return root
}

function locateError (root: protobuf.Root, err: Error & { code?: string, path?: string }, current: string): ProtoLoadError {
  const m = /\((?:(.+), )?line (\d+)\)$/.exec(err.message)
  if (m !== null) return new ProtoLoadError(m[1] ?? current, Number(m[2]), err.message.slice(0, m.index).trim(), err)
  if (err.code === 'ENOENT') return new ProtoLoadError(err.path ?? current, undefined, 'file not found (check the include dirs)', err)
  return locateResolveError(root, err)
}

// resolveAll's errors name the type but not where it is used: find the field or method
// that fails and the first line of its file that mentions the missing name.
function locateResolveError (root: protobuf.Root, err: Error): ProtoLoadError {
  for (const obj of walk(root)) {
    const parts: Array<protobuf.Field | protobuf.Method> = obj instanceof protobuf.Type
      ? obj.fieldsArray
      : obj instanceof protobuf.Service ? obj.methodsArray : []
    for (const part of parts) {
      try {
        part.resolve()
      } catch (inner) {
        const file = part.filename ?? obj.filename ?? '<protos>'
        const missing = part instanceof protobuf.Field ? part.type : part.requestType
        return new ProtoLoadError(file, lineOf(file, missing), (inner as Error).message, err)
      }
    }
  }
  return new ProtoLoadError('<protos>', undefined, err.message, err)
}

function lineOf (file: string, word: string): number | undefined {
  try {
    const lines = fs.readFileSync(file, 'utf8').split('\n')
    const i = lines.findIndex((l) => l.includes(word))
    return i < 0 ? undefined : i + 1
  } catch {
    return undefined
  }
}

function * walk (ns: protobuf.NamespaceBase): Generator<protobuf.ReflectionObject> {
  for (const child of ns.nestedArray) {
    yield child
    if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) yield * walk(child)
  }
}

function collectServices (root: protobuf.Root, out: Map<string, ServiceInfo>): void {
  for (const obj of walk(root)) {
    if (!(obj instanceof protobuf.Service)) continue
    const fullName = obj.fullName.slice(1)
    out.set(fullName, {
      fullName,
      methods: obj.methodsArray.map((m) => ({
        name: m.name,
        fullName: `${fullName}/${m.name}`,
        inputType: (m.resolvedRequestType as protobuf.Type).fullName.slice(1),
        outputType: (m.resolvedResponseType as protobuf.Type).fullName.slice(1),
        clientStreaming: m.requestStream === true,
        serverStreaming: m.responseStream === true,
        httpRule: httpRuleOf(m),
        file: m.filename ?? obj.filename ?? '<protos>',
        line: lineOf(m.filename ?? obj.filename ?? '', `rpc ${m.name}`)
      }))
    })
  }
}

function httpRuleOf (m: protobuf.Method): HttpRuleOption | undefined {
  // parsedOptions keeps the aggregate value as written; options flattens it lossily.
  const entry = m.parsedOptions?.find((o: Record<string, unknown>) => o['(google.api.http)'] !== undefined)
  if (entry === undefined) return undefined
  return normalizeRule(entry['(google.api.http)'] as HttpRuleOption)
}

function normalizeRule (rule: HttpRuleOption): HttpRuleOption {
  // A single additional_bindings block parses as an object, several as an array.
  const extra = rule.additional_bindings as HttpRuleOption | HttpRuleOption[] | undefined
  if (extra === undefined) return { ...rule }
  return { ...rule, additional_bindings: (Array.isArray(extra) ? extra : [extra]).map(normalizeRule) }
}

interface PbjsRootWithDescriptor { toDescriptor (edition: string): protobuf.Message }

function buildRegistry (root: protobuf.Root): FileRegistry {
  const pbSet = (root as unknown as PbjsRootWithDescriptor).toDescriptor('proto3')
  const bytes = pbDescriptor.FileDescriptorSet.encode(pbSet).finish()
  const set = fromBinary(FileDescriptorSetSchema, bytes)
  const owner = new Map<string, string>() // fully qualified type name → file name
  for (const wkt of WKT_FILES) {
    for (const m of wkt.proto.messageType) indexTypes(owner, wkt.proto.name, '.google.protobuf', m)
    for (const e of wkt.proto.enumType) owner.set(`.google.protobuf.${e.name}`, wkt.proto.name)
  }
  // protobufjs writes one file per package, named after it with dots as "_" (so a.b and
  // a_b would clash): name each by its package instead. google.protobuf comes from wkt.
  const files = set.file.filter((f) => f.package !== 'google.protobuf')
  for (const f of files) {
    f.name = `${f.package === '' ? '<root>' : f.package}.proto`
    const prefix = f.package === '' ? '' : '.' + f.package
    for (const m of f.messageType) indexTypes(owner, f.name, prefix, m)
    for (const e of f.enumType) owner.set(`${prefix}.${e.name}`, f.name)
  }
  for (const f of files) fixFile(root, f, owner)
  set.file = [...WKT_FILES.map((w) => w.proto), ...sortByDependency(files)]
  return createFileRegistry(set)
}

function indexTypes (owner: Map<string, string>, file: string, prefix: string, m: DescriptorProto): void {
  const full = `${prefix}.${m.name}`
  owner.set(full, file)
  for (const n of m.nestedType) indexTypes(owner, file, full, n)
  for (const e of m.enumType) owner.set(`${full}.${e.name}`, file)
}

// protobufjs's descriptors differ from protoc's in ways the registry refuses or that change
// JSON: type names are relative, json_name is empty, proto3 `optional` is dropped, extensions
// name their extendee loosely. Fix the first three from protobufjs's resolved reflection;
// drop extensions (custom options are read from protobufjs, not from the registry).
function fixFile (root: protobuf.Root, f: FileDescriptorProto, owner: Map<string, string>): void {
  const deps = new Set<string>()
  const prefix = f.package === '' ? '' : '.' + f.package
  const use = (typeName: string): void => {
    const file = owner.get(typeName)
    if (file !== undefined && file !== f.name) deps.add(file)
  }
  f.extension = []
  // Asked for proto3 throughout, protobufjs marks no field required and no proto2 field
  // packed; a package written wholly in proto2 gets its syntax and those two back.
  const tops = [...f.messageType, ...f.enumType].map((t) => root.lookup(`${prefix}.${t.name}`) as { _edition?: string } | null)
  const proto2 = tops.length > 0 && tops.every((t) => t?._edition === 'proto2')
  if (proto2) f.syntax = 'proto2'
  for (const m of f.messageType) fixMessage(root, `${prefix}.${m.name}`, m, use, proto2)
  for (const s of f.service) {
    for (const m of s.method) {
      use(m.inputType)
      use(m.outputType)
    }
  }
  f.dependency = [...deps]
}

function fixMessage (root: protobuf.Root, full: string, m: DescriptorProto, use: (t: string) => void, proto2: boolean): void {
  const type = root.lookupType(full)
  m.extension = []
  for (const fd of m.field) {
    const pf = type.fields[fd.name]
    if (pf === undefined) continue
    if (pf instanceof protobuf.MapField) {
      const entry = m.nestedType.find((n) => n.name === fd.typeName)
      fd.typeName = `${full}.${fd.typeName}`
      const value = entry?.field.find((x) => x.name === 'value')
      if (value !== undefined && pf.resolvedType !== null) {
        value.typeName = pf.resolvedType.fullName
        use(value.typeName)
      }
    } else if (pf.resolvedType !== null) {
      fd.typeName = pf.resolvedType.fullName
      use(fd.typeName)
    }
    const opts = pf.options as Record<string, unknown> | undefined
    if (opts?.proto3_optional === true) fd.proto3Optional = true
    if (proto2 && pf.required) fd.label = FieldDescriptorProto_Label.REQUIRED
    if (proto2 && pf.repeated && pf.packed) (fd.options ??= create(FieldOptionsSchema)).packed = true
    // protoc always fills json_name and the registry takes it as is; protobufjs leaves "".
    fd.jsonName = typeof opts?.json_name === 'string' ? opts.json_name : protoCamelCase(fd.name)
  }
  for (const n of m.nestedType) {
    if (n.options?.mapEntry !== true) fixMessage(root, `${full}.${n.name}`, n, use, proto2)
  }
}

// The registry resolves type names as each file is added, so dependencies go first.
function sortByDependency (files: FileDescriptorProto[]): FileDescriptorProto[] {
  const byName = new Map(files.map((f) => [f.name, f]))
  const out: FileDescriptorProto[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (f: FileDescriptorProto): void => {
    if (state.get(f.name) !== undefined) return // a cycle between packages: order as found
    state.set(f.name, 'visiting')
    for (const d of f.dependency) {
      const dep = byName.get(d)
      if (dep !== undefined) visit(dep)
    }
    state.set(f.name, 'done')
    out.push(f)
  }
  for (const f of files) visit(f)
  return out
}

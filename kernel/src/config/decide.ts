/** Pure decisions of the config context: merge a patch, validate, and say what changed. */
import { AnnalConfig, type ConfigDocument, type ConfigPatch } from "@annal/spec"
import { Either, ParseResult, Schema, SchemaAST } from "effect"
import { createHash } from "node:crypto"
import type { ConfigChanged } from "./events.js"

export interface ConfigState {
  readonly config: AnnalConfig
  readonly apiKeySha256: string | null
  readonly version: number
  /** Keys Annal does not know, kept as a client gave them (an Oxios config's own sections). */
  readonly extra: Record<string, unknown>
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Deep-merges `patch` over `base`: objects merge, anything else replaces. */
export const deepMerge = (base: unknown, patch: unknown): unknown => {
  if (!isObject(base) || !isObject(patch)) return patch === undefined ? base : patch
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(patch)) out[key] = deepMerge(base[key], value)
  return out
}

/** Dotted paths whose leaf values differ between two configs. */
export const changedPaths = (a: unknown, b: unknown, prefix = ""): Array<string> => {
  // a section that appears or goes counts by its leaves
  if (a === undefined && isObject(b)) return changedPaths({}, b, prefix)
  if (isObject(a) && b === undefined) return changedPaths(a, {}, prefix)
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
    return keys.flatMap((k) => changedPaths(a[k], b[k], prefix === "" ? k : `${prefix}.${k}`))
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix]
}

const structOf = (ast: SchemaAST.AST): SchemaAST.TypeLiteral | undefined =>
  ast._tag === "Refinement" ? structOf(ast.from) : ast._tag === "TypeLiteral" ? ast : undefined

/**
 * Splits a value into what `ast` declares and what it does not, at every level: a struct's
 * unknown keys go to `unknown`; a record (like `tools.policies`) knows every key.
 */
export const splitUnknown = (
  value: unknown,
  ast: SchemaAST.AST
): { readonly known: unknown; readonly unknown: Record<string, unknown> | undefined } => {
  const struct = structOf(ast)
  if (!isObject(value) || struct === undefined || struct.indexSignatures.length > 0) return { known: value, unknown: undefined }
  const known: Record<string, unknown> = {}
  const unknown: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    const property = struct.propertySignatures.find((p) => p.name === key)
    if (property === undefined) {
      unknown[key] = v
      continue
    }
    const inner = splitUnknown(v, property.type)
    known[key] = inner.known
    if (inner.unknown !== undefined) unknown[key] = inner.unknown
  }
  return { known, unknown: Object.keys(unknown).length === 0 ? undefined : unknown }
}

/** The configuration as `GET /api/config` shows it: the known settings over the kept unknown keys. */
export const documentOf = (state: Pick<ConfigState, "config" | "extra">): ConfigDocument =>
  deepMerge(state.extra, state.config) as ConfigDocument

export const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex")

/**
 * Applies a decoded patch to the current state: the event to append, or none when nothing
 * changes. A patch that leaves the config invalid is refused with the offending field.
 */
export const decideUpdate = (
  state: ConfigState,
  patch: ConfigPatch
): Either.Either<ConfigChanged | undefined, string> => {
  const { security, ...rest } = patch
  const { api_key, api_key_set: _ignored, ...securityRest } = security ?? {}
  const apiKeySha256 = api_key === undefined ? state.apiKeySha256 : api_key === null ? null : sha256(api_key)
  const { known, unknown } = splitUnknown({ ...rest, ...(security === undefined ? {} : { security: securityRest }) }, AnnalConfig.ast)
  const merged = deepMerge(state.config, deepMerge(known, { security: { api_key_set: apiKeySha256 !== null } }))
  const decoded = Schema.decodeUnknownEither(AnnalConfig, { onExcessProperty: "error" })(merged)
  if (Either.isLeft(decoded)) {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
    return Either.left(issue === undefined ? "invalid configuration" : `invalid field "${issue.path.join(".")}": ${issue.message}`)
  }
  const extra = (unknown === undefined ? state.extra : deepMerge(state.extra, unknown)) as Record<string, unknown>
  const changed = [...changedPaths(state.config, decoded.right), ...changedPaths(state.extra, extra)].sort()
  if (apiKeySha256 !== state.apiKeySha256 && !changed.includes("security.api_key")) changed.push("security.api_key")
  if (changed.length === 0) return Either.right(undefined)
  return Either.right({
    config: decoded.right,
    api_key_sha256: apiKeySha256,
    changed,
    ...(Object.keys(extra).length === 0 ? {} : { extra })
  })
}

const valueAt = (value: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>((v, key) => (isObject(v) ? v[String(key)] : undefined), value)

const replaceAt = (value: unknown, path: ReadonlyArray<PropertyKey>, replacement: unknown): unknown => {
  if (path.length === 0) return replacement
  const [head, ...tail] = path
  const base = isObject(value) ? value : {}
  const out: Record<string, unknown> = { ...base }
  const next = replaceAt(base[String(head)], tail, replacement)
  if (next === undefined) delete out[String(head)]
  else out[String(head)] = next
  return out
}

/**
 * The stored configuration made usable at start: each setting that does not decode (written by
 * an older version, or edited by hand) is replaced by its default and named in `repaired`, so a
 * bad setting is reported and never keeps the server from starting.
 */
export const usableConfig = (
  stored: unknown,
  defaults: AnnalConfig
): { readonly config: AnnalConfig; readonly repaired: ReadonlyArray<string> } => {
  let value = deepMerge(defaults, stored)
  const repaired: Array<string> = []
  const tried = new Set<string>()
  for (let attempt = 0; attempt < 64; attempt++) {
    const decoded = Schema.decodeUnknownEither(AnnalConfig)(value)
    if (Either.isRight(decoded)) return { config: decoded.right, repaired }
    const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
    if (issue === undefined || issue.path.length === 0) break
    // the setting the issue is about, or its section when the default has nothing there
    let path: ReadonlyArray<PropertyKey> = issue.path
    while (path.length > 1 && valueAt(defaults, path) === undefined) path = path.slice(0, -1)
    // a rule across settings (a provider without its model) still failing: the whole section
    while (path.length > 1 && tried.has(path.map(String).join("."))) path = path.slice(0, -1)
    tried.add(path.map(String).join("."))
    const name = path.map(String).join(".")
    repaired.push(`${name}: ${JSON.stringify(valueAt(value, path)) ?? "missing"} cannot be used (${issue.message}); using the default ${JSON.stringify(valueAt(defaults, path))}`)
    value = replaceAt(value, path, valueAt(defaults, path))
  }
  return { config: defaults, repaired: [...repaired, "the stored configuration cannot be used; using the defaults"] }
}

/** Pure decisions of the config context: merge a patch, validate, and say what changed. */
import { AnnalConfig, type ConfigPatch } from "@annal/spec"
import { Either, ParseResult, Schema } from "effect"
import { createHash } from "node:crypto"
import type { ConfigChanged } from "./events.js"

export interface ConfigState {
  readonly config: AnnalConfig
  readonly apiKeySha256: string | null
  readonly version: number
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
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
    return keys.flatMap((k) => changedPaths(a[k], b[k], prefix === "" ? k : `${prefix}.${k}`))
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix]
}

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
  const merged = deepMerge(state.config, { ...rest, security: { ...securityRest, api_key_set: apiKeySha256 !== null } })
  const decoded = Schema.decodeUnknownEither(AnnalConfig, { onExcessProperty: "error" })(merged)
  if (Either.isLeft(decoded)) {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
    return Either.left(issue === undefined ? "invalid configuration" : `invalid field "${issue.path.join(".")}": ${issue.message}`)
  }
  const changed = changedPaths(state.config, decoded.right)
  if (apiKeySha256 !== state.apiKeySha256 && !changed.includes("security.api_key")) changed.push("security.api_key")
  if (changed.length === 0) return Either.right(undefined)
  return Either.right({ config: decoded.right, api_key_sha256: apiKeySha256, changed })
}

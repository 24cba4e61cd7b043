/**
 * What of an event may leave the server on a live stream (SSE, WebSocket): its identity and an
 * allowlist of scalar fields. Message contents, LLM text, seed contents and secrets never do.
 */
import type { StoredEvent } from "@annal/store"

/** Keys of `data` that may be shown, when their value is a scalar or a list of strings. */
const SAFE_KEYS = new Set([
  "id",
  "name",
  "status",
  "phase",
  "priority",
  "allowed",
  "reason",
  "action",
  "resource",
  "subject",
  "score",
  "passed",
  "generation",
  "count",
  "tool",
  "memory_type",
  "tags",
  "importance",
  "changed",
  "path",
  "sha256",
  "version",
  "exit_code",
  "duration_ms",
  "output_bytes",
  "stage",
  "timed_out",
  "tokens",
  "success",
  // a chat phase's outcome and how the model's structured answer was read (no model text)
  "outcome",
  "repaired",
  "fallback",
  "detail"
])

const isScalar = (v: unknown) => v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean"
const isStringList = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string")

/** The event as a live stream shows it: `{type, seq, at, stream, actor, ...safe fields}`. */
export const publicView = (event: StoredEvent): Record<string, unknown> => {
  const out: Record<string, unknown> = { type: event.type }
  for (const [key, value] of Object.entries(event.data)) {
    if (!(SAFE_KEYS.has(key) || key.endsWith("_id") || key.endsWith("_ids"))) continue
    if (isScalar(value) || isStringList(value)) out[key] = value
  }
  out.seq = event.seq
  out.at = event.at
  out.stream = event.stream
  out.actor = event.actor
  return out
}

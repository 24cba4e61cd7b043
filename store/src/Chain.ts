/**
 * The hash chain of the event log, exactly as docs/event-log.md specifies it:
 *
 *   hash = hex(sha256(utf8("annal/v1\n" + C([seq, id, stream, version, type, actor, at, data, meta]) + "\n" + prev_hash)))
 *
 * where C is RFC 8785 canonical JSON and prev_hash of seq 1 is 64 zeros.
 */
import canonicalize from "canonicalize"
import { createHash } from "node:crypto"
import type { EventRow } from "./StoredEvent.js"

/** prev_hash of the first event. */
export const GENESIS_HASH = "0".repeat(64)

const PREFIX = "annal/v1\n"

/** RFC 8785 canonical JSON of a JSON value. Throws on values JSON cannot hold. */
export const canonicalJson = (value: unknown): string => {
  const text = canonicalize(value)
  if (text === undefined) throw new TypeError("value has no JSON representation")
  return text
}

/** The fields the hash covers, in order. */
export interface ChainFields {
  readonly seq: number
  readonly id: string
  readonly stream: string
  readonly version: number
  readonly type: string
  readonly actor: string
  readonly at: string
}

const sha256Hex = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex")

/**
 * Hash of an event whose data and meta are already canonical JSON text (the append path).
 * Equal to `hashOfValues` because canonical text re-canonicalises to itself.
 */
export const hashOfCanonical = (
  fields: ChainFields,
  canonicalData: string,
  canonicalMeta: string,
  prevHash: string
): string =>
  sha256Hex(
    PREFIX +
      "[" +
      // seq and version are positive integers: their canonical form is their decimal digits
      String(fields.seq) + "," +
      JSON.stringify(fields.id) + "," +
      JSON.stringify(fields.stream) + "," +
      String(fields.version) + "," +
      JSON.stringify(fields.type) + "," +
      JSON.stringify(fields.actor) + "," +
      JSON.stringify(fields.at) + "," +
      canonicalData + "," +
      canonicalMeta +
      "]\n" +
      prevHash
  )

/** Hash of an event from its parsed values: what an outside verifier computes. */
export const hashOfValues = (
  fields: ChainFields,
  data: unknown,
  meta: unknown,
  prevHash: string
): string =>
  sha256Hex(
    PREFIX +
      canonicalJson([fields.seq, fields.id, fields.stream, fields.version, fields.type, fields.actor, fields.at, data, meta]) +
      "\n" +
      prevHash
  )

const isObject = (u: unknown): boolean => typeof u === "object" && u !== null && !Array.isArray(u)

/** The first place a chain stops verifying. */
export interface ChainBreak {
  readonly broken_at_seq: number
  readonly expected: string
  readonly found: string
  readonly reason: string
}

/**
 * Checks one row against the chain so far. `position` is the seq the row must have and
 * `prevHash` the hash of the row before it. Returns the break, or undefined when it links.
 */
export const checkRow = (row: EventRow, position: number, prevHash: string): ChainBreak | undefined => {
  if (row.prev_hash !== prevHash) {
    const reason = row.seq === position ? "prev_hash does not link to the previous row" : `row ${position} is missing or out of place`
    return { broken_at_seq: position, expected: prevHash, found: row.prev_hash, reason }
  }
  if (row.seq !== position) {
    return { broken_at_seq: position, expected: `seq ${position}`, found: `seq ${row.seq}`, reason: `row ${position} is missing or out of place` }
  }
  const unparseable = { broken_at_seq: position, expected: "JSON data and meta", found: "unparseable JSON", reason: "row is not valid JSON" }
  let data: unknown
  let meta: unknown
  try {
    data = JSON.parse(row.data)
    meta = JSON.parse(row.meta)
  } catch {
    return unparseable
  }
  // The append stored the canonical text it hashed. When the row's text, hashed as it stands,
  // gives the row's hash, re-canonicalising it (most of a walk's cost) would give the same text:
  // data and meta each parse as one JSON object, so the hashed text splits into them one way
  // only. Anything else — a break, or the same values written in another form — takes the full way.
  if (isObject(data) && isObject(meta) && hashOfCanonical(row, row.data, row.meta, prevHash) === row.hash) return undefined
  let expected: string
  try {
    // a value JSON can hold but canonical JSON cannot (1e400 parses as Infinity) is a break too
    expected = hashOfValues(row, data, meta, prevHash)
  } catch {
    return unparseable
  }
  if (expected !== row.hash) {
    return { broken_at_seq: position, expected, found: row.hash, reason: "hash does not match the row's contents" }
  }
  return undefined
}

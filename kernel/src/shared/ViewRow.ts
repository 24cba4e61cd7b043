/**
 * Reading view rows through a Schema instead of mapping them by hand: JSON columns with
 * `Schema.parseJson`, SQLite's 0/1 flags with `Flag`. A row the Schema refuses is a view this
 * code did not write (`annal rebuild` repairs it): the read fails with an EventStoreError.
 */
import { EventStoreError } from "@annal/store"
import { Effect, ParseResult, Schema } from "effect"

/** A boolean kept by SQLite as 0 or 1. */
export const Flag = Schema.transform(Schema.Literal(0, 1), Schema.Boolean, {
  strict: true,
  decode: (n) => n === 1,
  encode: (b) => (b ? 1 : 0)
})

/** A JSON column holding a list of strings. */
export const JsonStrings = Schema.parseJson(Schema.Array(Schema.String))

const refused = (what: string, e: ParseResult.ParseError) =>
  `a row of ${what} is not what its projection writes: ${ParseResult.TreeFormatter.formatErrorSync(e)}`

/**
 * Decodes a view row where the caller is synchronous (a projection in the append transaction,
 * a read that is not an Effect): it throws, and the append or read fails with that message.
 */
export const decodeRowSync = <A, I>(schema: Schema.Schema<A, I, never>, what: string) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (row: I): A => {
    const decoded = decode(row)
    if (decoded._tag === "Left") throw new Error(refused(what, decoded.left))
    return decoded.right
  }
}

/** Runs synchronous row decoding (`decodeRowSync`) in an Effect: a refused row fails it with an EventStoreError. */
export const decoding = <A>(f: () => A): Effect.Effect<A, EventStoreError> =>
  Effect.try({ try: f, catch: (e) => new EventStoreError({ reason: e instanceof Error ? e.message : String(e), cause: e }) })

/** Decodes a view row (`what` names the view in the error). */
export const decodeRow = <A, I>(schema: Schema.Schema<A, I, never>, what: string) => {
  const decode = Schema.decodeUnknown(schema)
  return (row: unknown): Effect.Effect<A, EventStoreError> =>
    Effect.mapError(decode(row), (e) =>
      new EventStoreError({ reason: refused(what, e), cause: e }))
}

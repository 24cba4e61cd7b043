/**
 * Reading view rows through a Schema instead of mapping them by hand: every read decodes its rows
 * through the row Schema its projection exports (`query`, `paged` in this folder call
 * `decodeRows`), JSON columns with `Schema.parseJson`, SQLite's 0/1 flags with `Flag`, counts
 * with `Count`. A row the Schema refuses is a view this code did not write (`annal rebuild`
 * repairs it): the read fails with an EventStoreError naming the view.
 */
import { EventStoreError } from "@annal/store"
import { Effect, ParseResult, Schema } from "effect"

/** A boolean kept by SQLite as 0 or 1. */
export const Flag = Schema.transform(Schema.Literal(0, 1), Schema.Boolean, {
  strict: true,
  decode: (n) => n === 1,
  encode: (b) => (b ? 1 : 0)
})

/** The one row of `SELECT count(*) AS n …`. */
export const Count = Schema.Struct({ n: Schema.Number })

/** A JSON column holding a list of strings. */
export const JsonStrings = Schema.parseJson(Schema.Array(Schema.String))

const refused = (what: string, e: ParseResult.ParseError) =>
  `a row of ${what} is not what its projection writes: ${ParseResult.TreeFormatter.formatErrorSync(e)}`

/**
 * Decodes a view row where the caller is synchronous (a projection in the append transaction):
 * it throws, and the append fails with that message.
 */
export const decodeRowSync = <A, I>(schema: Schema.Schema<A, I, never>, what: string) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (row: unknown): A => {
    const decoded = decode(row)
    if (decoded._tag === "Left") throw new Error(refused(what, decoded.left))
    return decoded.right
  }
}

const rowsDecoders = new WeakMap<Schema.Schema.Any, (rows: unknown) => Effect.Effect<ReadonlyArray<unknown>, ParseResult.ParseError>>()

/** Decodes the rows of a read of a view (`what` names the view in the error). */
export const decodeRows = <A, I>(row: Schema.Schema<A, I, never>, what: string) => {
  let decode = rowsDecoders.get(row)
  if (decode === undefined) {
    decode = Schema.decodeUnknown(Schema.Array(row))
    rowsDecoders.set(row, decode)
  }
  const decodeAll = decode as (rows: unknown) => Effect.Effect<ReadonlyArray<A>, ParseResult.ParseError>
  return (rows: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<A>, EventStoreError> =>
    Effect.mapError(decodeAll(rows), (e) => new EventStoreError({ reason: refused(what, e), cause: e }))
}

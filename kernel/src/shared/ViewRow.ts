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

/** Decodes a view row (`what` names the view in the error). */
export const decodeRow = <A, I>(schema: Schema.Schema<A, I, never>, what: string) => {
  const decode = Schema.decodeUnknown(schema)
  return (row: unknown): Effect.Effect<A, EventStoreError> =>
    Effect.mapError(decode(row), (e) =>
      new EventStoreError({ reason: `a row of ${what} is not what its projection writes: ${ParseResult.TreeFormatter.formatErrorSync(e)}`, cause: e }))
}

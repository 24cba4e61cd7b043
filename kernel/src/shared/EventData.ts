/**
 * Reading a stored event's data: decoded with its type's Schema, never cast. Projections and
 * evolve functions run synchronously (inside the append transaction, or a replay), so a stored
 * event the Schema refuses is thrown as a MalformedEvent that names its seq.
 */
import { EventStoreError, type StoredEvent } from "@annal/store"
import { Data, Effect, Either, ParseResult, Schema } from "effect"

/** A stored event whose data its type's Schema does not accept: the log holds what this code cannot read. */
export class MalformedEvent extends Data.TaggedError("MalformedEvent")<{
  readonly seq: number
  readonly type: string
  readonly stream: string
  readonly issue: string
}> {
  override get message() {
    return `event ${this.seq} (${this.type} on ${this.stream}) does not match its schema: ${this.issue}`
  }
}

// one decoder per Schema, made on first use (projections decode on the append path)
const decoders = new WeakMap<Schema.Schema.Any, (u: unknown) => Either.Either<unknown, ParseResult.ParseError>>()

/**
 * An event's data decoded with its Schema. Projections run synchronously inside the append
 * transaction, so a mismatch is thrown as a MalformedEvent naming the seq: the append (or the
 * replay) fails with it and the views are left as they were.
 */
export const decodeData = <A, I>(schema: Schema.Schema<A, I, never>, event: StoredEvent): A => {
  let decoder = decoders.get(schema)
  if (decoder === undefined) {
    decoder = Schema.decodeUnknownEither(schema) as (u: unknown) => Either.Either<unknown, ParseResult.ParseError>
    decoders.set(schema, decoder)
  }
  const decoded = decoder(event.data)
  if (Either.isLeft(decoded)) {
    throw new MalformedEvent({ seq: event.seq, type: event.type, stream: event.stream, issue: ParseResult.TreeFormatter.formatErrorSync(decoded.left) })
  }
  return decoded.right as A
}

/**
 * `decodeData` for a service reading events it loaded: a malformed one fails the command with an
 * EventStoreError (the log holds what this code cannot read) carrying the MalformedEvent.
 */
export const readData = <A, I>(schema: Schema.Schema<A, I, never>, event: StoredEvent): Effect.Effect<A, EventStoreError> =>
  Effect.try({
    try: () => decodeData(schema, event),
    catch: (e) => new EventStoreError({ reason: e instanceof MalformedEvent ? e.message : String(e), cause: e })
  })

/** `readData` for an event read as a row, its data still JSON text. */
export const readRowData = <A, I>(
  schema: Schema.Schema<A, I, never>,
  row: { readonly seq: number; readonly type: string; readonly stream: string; readonly data: string }
): Effect.Effect<A, EventStoreError> =>
  Effect.flatMap(
    Effect.try({
      try: () => JSON.parse(row.data) as StoredEvent["data"],
      catch: (e) => new EventStoreError({ reason: `event ${row.seq} (${row.type} on ${row.stream}): its data is not JSON`, cause: e })
    }),
    (data) => readData(schema, { seq: row.seq, type: row.type, stream: row.stream, data } as StoredEvent)
  )

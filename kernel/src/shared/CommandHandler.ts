/**
 * The one way a command reaches the log, in the decider's shape (emmett's
 * `DeciderCommandHandler`): the request's idempotency key first — a repeat answers from the
 * events the first attempt appended and decides nothing — then the stream's version, the state
 * the decision needs, the pure decision, the append at that version, and all of it again, on
 * fresh state, when another command on the same stream committed in between.
 */
import { EventStore, type EventDraft, EventStoreError, type StoredEvent } from "@annal/store"
import { Effect, Either } from "effect"
import type { CommandContext } from "./Command.js"
import { ConcurrentChange, InvalidCommand } from "./errors.js"

/** What a context supplies for one kind of command. */
export interface Decider<C, S, A, E = never, R = never, EA = never, RA = never, EL = EventStoreError> {
  /** The stream the command's events go to. */
  readonly stream: (command: C) => string
  /**
   * The state the decision needs, read after the stream's version (so a change after it fails the
   * append). A command whose event records work done outside the log (a workspace write) does
   * that work here, so that a repeated idempotency key never does it twice.
   */
  readonly load: (command: C) => Effect.Effect<S, EL, R>
  /** The events the command decides on (none: nothing happens), or why it is refused. Pure. */
  readonly decide: (command: C, state: S) => Either.Either<ReadonlyArray<EventDraft>, E>
  /** The event types this command appends: a repeated idempotency key whose events have none of them was another request's. */
  readonly emits: ReadonlyArray<string>
  /** The answer, from the committed events (or, for a repeated key, the first attempt's). */
  readonly answer: (events: ReadonlyArray<StoredEvent>, command: C) => Effect.Effect<A, EA, RA>
}

/** How many times a command decides again after a concurrent change before giving up with 409. */
const CONFLICT_RETRIES = 8

/**
 * The events a repeated idempotency key appended, when they are of a command that `emits` one of
 * these types; InvalidCommand when the key was another request's; undefined for a new key.
 */
export const replayed = (store: EventStore["Type"], emits: ReadonlyArray<string>, context: CommandContext) =>
  Effect.gen(function*() {
    const key = context.meta?.idempotency_key
    const prior = key === undefined ? undefined : yield* store.applied(key)
    if (prior === undefined) return undefined
    if (!prior.some((e) => emits.includes(e.type))) {
      return yield* Effect.fail(new InvalidCommand({ message: `the Idempotency-Key ${JSON.stringify(key)} was already used for a different request` }))
    }
    return prior
  })

/** Handles commands against `store`. */
export const commandHandler = (store: EventStore["Type"]) => {
  /** Load, decide and append once; a concurrent change fails with ConcurrentChange. */
  const attempt = <C, S, E, R, EL>(decider: Pick<Decider<C, S, unknown, E, R, never, never, EL>, "stream" | "load" | "decide">, command: C, context: CommandContext) =>
    Effect.gen(function*() {
      const stream = decider.stream(command)
      const version = yield* store.version(stream)
      const state = yield* decider.load(command)
      const events = yield* Either.match(decider.decide(command, state), { onLeft: Effect.fail, onRight: Effect.succeed })
      if (events.length === 0) return [] as ReadonlyArray<StoredEvent>
      return yield* store.append({ stream, expectedVersion: version, events, actor: context.actor, meta: context.meta }).pipe(
        Effect.catchTag("StreamVersionConflict", (e) => Effect.fail(new ConcurrentChange({ message: e.message })))
      )
    })

  return <C, S, A, E, R, EA, RA, EL = EventStoreError>(decider: Decider<C, S, A, E, R, EA, RA, EL>) =>
  (
    command: C,
    context: CommandContext
  ): Effect.Effect<A, E | EA | EL | ConcurrentChange | InvalidCommand | EventStoreError, R | RA> =>
    Effect.gen(function*() {
      const prior = yield* replayed(store, decider.emits, context)
      if (prior !== undefined) return yield* decider.answer(prior, command)
      const events = yield* attempt(decider, command, context).pipe(
        Effect.retry({ while: (e) => (e as { _tag?: string })._tag === "ConcurrentChange", times: CONFLICT_RETRIES })
      )
      return yield* decider.answer(events, command)
    })
}

/** An answer that needs nothing but the events. */
export const answerWith = <A, C = unknown>(f: (events: ReadonlyArray<StoredEvent>, command: C) => A) => (events: ReadonlyArray<StoredEvent>, command: C) =>
  Effect.succeed(f(events, command))

/** The first event of `type` among `events`, if any. */
export const eventOf = (events: ReadonlyArray<StoredEvent>, type: string): StoredEvent | undefined => events.find((e) => e.type === type)

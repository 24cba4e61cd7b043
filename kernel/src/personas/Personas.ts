/**
 * The personas service. All persona events share one stream, so every decision is taken on
 * the whole set at one version. On a log that never had a persona event, the default persona
 * is created and activated at start.
 */
import { SqlClient } from "@effect/sql"
import type { CreatePersona, Persona, PersonaDeleted, PersonaSummary, UpdatePersona } from "@annal/spec"
import { EventStore, type EventStoreError, IdGenerator } from "@annal/store"
import { Context, Effect, Layer, Option } from "effect"
import { appendDecided, type CommandContext, query, streamVersion } from "../shared/Command.js"
import { type AlreadyExists, type ConcurrentChange, EntityNotFound, type InvalidCommand } from "../shared/errors.js"
import { answerWith, commandHandler, eventOf } from "../shared/CommandHandler.js"
import { decideActivate, decideCreate, decideDelete, decideInitial, decideUpdate, type PersonaState } from "./decide.js"
import { PERSONA_ACTIVATED, PERSONA_CREATED, PERSONA_DELETED, PERSONA_UPDATED, PERSONAS_STREAM } from "./events.js"
import { PersonaActiveRow, PersonaRow } from "./projection.js"

// every persona's events share one stream
const toPersona = ({ seq: _seq, ...r }: typeof PersonaRow.Type): Persona => ({ ...r, stream: PERSONAS_STREAM })

export class Personas extends Context.Tag("@annal/kernel/Personas")<
  Personas,
  {
    /** Every persona, oldest first, the active one marked. */
    readonly list: Effect.Effect<ReadonlyArray<PersonaSummary>, EventStoreError>
    readonly get: (id: string) => Effect.Effect<Persona, EntityNotFound | EventStoreError>
    /** The active persona, if any. */
    readonly active: Effect.Effect<Option.Option<Persona>, EventStoreError>
    readonly create: (
      input: CreatePersona,
      context: CommandContext
    ) => Effect.Effect<{ readonly id: string; readonly name: string }, AlreadyExists | InvalidCommand | ConcurrentChange | EventStoreError>
    /** Changes the given fields; returns the persona's id. */
    readonly update: (
      id: string,
      patch: UpdatePersona,
      context: CommandContext
    ) => Effect.Effect<string, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    /** Deletes a persona; when it was active, says which one is active now. */
    readonly delete: (
      id: string,
      context: CommandContext
    ) => Effect.Effect<PersonaDeleted, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    readonly activate: (
      id: string,
      context: CommandContext
    ) => Effect.Effect<{ readonly id: string; readonly name: string }, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
  }
>() {
  static readonly layer = Layer.effect(
    Personas,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const context = yield* Effect.context<SqlClient.SqlClient | EventStore>()
      const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | EventStore>) => Effect.provide(effect, context)
      const handle = commandHandler(Context.get(context, EventStore))

      const rows = query("personas", PersonaRow, (sql) => sql`SELECT * FROM personas ORDER BY seq`)
      const activeId = Effect.map(
        query("persona_active", PersonaActiveRow, (sql) => sql`SELECT * FROM persona_active WHERE slot = 1`),
        ([r]) => r?.persona_id ?? null
      )
      const row = (id: string) => Effect.map(query("personas", PersonaRow, (sql) => sql`SELECT * FROM personas WHERE id = ${id}`), ([r]) => r)
      const get = (id: string) =>
        Effect.flatMap(row(id), (r): Effect.Effect<Persona, EntityNotFound | EventStoreError> =>
          r === undefined ? Effect.fail(new EntityNotFound({ what: "persona", id })) : Effect.succeed(toPersona(r)))

      const load = Effect.gen(function*() {
        const all = yield* rows
        const personas = all.map(toPersona)
        return { personas, activeId: yield* activeId } satisfies PersonaState
      })
      const onPersonas = { stream: () => PERSONAS_STREAM, load: () => load }

      const create = handle({
        ...onPersonas,
        // the id is made before deciding, so the decision stays pure
        decide: (input: CreatePersona & { readonly id: string }, state) => decideCreate(state, input.id, input),
        emits: [PERSONA_CREATED],
        // an idempotent retry gets back the first attempt's event, and so its id
        answer: answerWith((events) => {
          const created = eventOf(events, PERSONA_CREATED)!
          return { id: String(created.data.persona_id), name: String(created.data.name) }
        })
      })

      const update = handle({
        ...onPersonas,
        decide: (command: { readonly id: string; readonly patch: UpdatePersona }, state) => decideUpdate(state, command.id, command.patch),
        emits: [PERSONA_UPDATED],
        answer: answerWith((_, command) => command.id)
      })

      const remove = handle({
        ...onPersonas,
        decide: (id: string, state) => decideDelete(state, id),
        emits: [PERSONA_DELETED],
        answer: answerWith((events): PersonaDeleted => {
          const id = String(eventOf(events, PERSONA_DELETED)!.data.persona_id)
          const activated = eventOf(events, PERSONA_ACTIVATED)
          if (activated === undefined) return { status: "deleted", id }
          const next = String(activated.data.persona_id)
          return { status: "deleted", id, active_id: next, message: `${id} was the active persona; ${next} is active now` }
        })
      })

      const activate = handle({
        ...onPersonas,
        decide: (id: string, state) => decideActivate(state, id),
        emits: [PERSONA_ACTIVATED],
        answer: (events, id) =>
          Effect.map(get(String(eventOf(events, PERSONA_ACTIVATED)?.data.persona_id ?? id)), (persona) => ({ id: persona.id, name: persona.name }))
      })

      // the default persona, once per log: only when no persona event was ever appended
      const initial = decideInitial(yield* run(streamVersion(PERSONAS_STREAM)))
      if (initial.length > 0) {
        yield* run(appendDecided(PERSONAS_STREAM, 0, initial, { actor: "system" })).pipe(
          Effect.zipRight(Effect.logInfo("created the default persona")),
          // another process created it at the same moment
          Effect.catchTag("ConcurrentChange", () => Effect.void)
        )
      }

      return Personas.of({
        list: run(Effect.gen(function*() {
          const active = yield* activeId
          const all = yield* rows
          return all.map((r): PersonaSummary => {
            const p = toPersona(r)
            return {
              id: p.id,
              name: p.name,
              role: p.role,
              description: p.description,
              enabled: p.enabled,
              personality_traits: p.personality_traits,
              active: p.id === active,
              stream: PERSONAS_STREAM
            }
          })
        })),
        get: (id) => run(get(id)),
        active: run(Effect.flatMap(activeId, (id) =>
          id === null ? Effect.succeed(Option.none()) : Effect.map(row(id), (r) => Option.map(Option.fromNullable(r), toPersona)))),
        create: (input, ctx) => run(Effect.flatMap(ids.next, (id) => create({ ...input, id }, ctx))),
        update: (id, patch, ctx) => run(update({ id, patch }, ctx)),
        delete: (id, ctx) => run(remove(id, ctx)),
        activate: (id, ctx) => run(activate(id, ctx))
      })
    })
  )
}

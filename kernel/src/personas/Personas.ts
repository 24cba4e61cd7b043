/**
 * The personas service. All persona events share one stream, so every decision is taken on
 * the whole set at one version. On a log that never had a persona event, the default persona
 * is created and activated at start.
 */
import { SqlClient } from "@effect/sql"
import type { CreatePersona, Persona, PersonaDeleted, PersonaSummary, UpdatePersona } from "@annal/spec"
import { EventStore, type EventStoreError, IdGenerator, type StoredEvent } from "@annal/store"
import { Context, Effect, Layer, Option } from "effect"
import { appendDecided, type CommandContext, query, streamVersion } from "../shared/Command.js"
import { type AlreadyExists, type ConcurrentChange, EntityNotFound, type InvalidCommand } from "../shared/errors.js"
import { priorEvents } from "../shared/Idempotency.js"
import { decideActivate, decideCreate, decideDelete, decideInitial, decideUpdate, type PersonaEvent, type PersonaState } from "./decide.js"
import { PERSONA_ACTIVATED, PERSONA_CREATED, PERSONA_DELETED, PERSONA_UPDATED, PERSONAS_STREAM } from "./events.js"

interface PersonaRow {
  readonly id: string
  readonly name: string
  readonly role: string
  readonly description: string
  readonly system_prompt: string
  readonly enabled: number
  readonly model: string | null
  readonly personality_traits: string
  readonly created_at: string
  readonly updated_at: string
}

const toPersona = (r: PersonaRow): Persona => ({
  id: r.id,
  name: r.name,
  role: r.role,
  description: r.description,
  system_prompt: r.system_prompt,
  enabled: r.enabled === 1,
  model: r.model,
  personality_traits: JSON.parse(r.personality_traits),
  created_at: r.created_at,
  updated_at: r.updated_at
})

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
    ) => Effect.Effect<{ readonly id: string; readonly name: string }, AlreadyExists | ConcurrentChange | EventStoreError>
    /** Changes the given fields; returns the persona's id. */
    readonly update: (
      id: string,
      patch: UpdatePersona,
      context: CommandContext
    ) => Effect.Effect<string, EntityNotFound | ConcurrentChange | EventStoreError>
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

      const rows = query("personas", (sql) =>
        sql<PersonaRow>`SELECT id, name, role, description, system_prompt, enabled, model, personality_traits, created_at, updated_at
          FROM personas ORDER BY seq`)
      const activeId = query("the active persona", (sql) =>
        Effect.map(sql<{ persona_id: string | null }>`SELECT persona_id FROM persona_active WHERE slot = 1`, (r) => r[0]?.persona_id ?? null))
      const row = (id: string) =>
        query("a persona", (sql) =>
          Effect.map(
            sql<PersonaRow>`SELECT id, name, role, description, system_prompt, enabled, model, personality_traits, created_at, updated_at
              FROM personas WHERE id = ${id}`,
            (r) => r[0]
          ))
      const get = (id: string) =>
        Effect.flatMap(row(id), (r) => (r === undefined ? Effect.fail(new EntityNotFound({ what: "persona", id })) : Effect.succeed(toPersona(r))))

      /** The stream version first, then the view: a change in between makes the append conflict. */
      const load = Effect.gen(function*() {
        const version = yield* streamVersion(PERSONAS_STREAM)
        const personas = (yield* rows).map(toPersona)
        const state: PersonaState = { personas, activeId: yield* activeId }
        return { version, state }
      })

      const append = (version: number, events: ReadonlyArray<PersonaEvent>, ctx: CommandContext) =>
        events.length === 0 ? Effect.succeed([] as ReadonlyArray<StoredEvent>) : appendDecided(PERSONAS_STREAM, version, events, ctx)

      const find = (events: ReadonlyArray<StoredEvent>, type: string) => events.find((e) => e.type === type)

      const create = (input: CreatePersona, ctx: CommandContext) =>
        Effect.gen(function*() {
          const { state, version } = yield* load
          const stored = yield* append(version, yield* decideCreate(state, (yield* ids.next), input), ctx)
          // an idempotent retry gets back the first attempt's event, and so its id
          const created = find(stored, PERSONA_CREATED)!
          return { id: String(created.data.persona_id), name: String(created.data.name) }
        })

      const update = (id: string, patch: UpdatePersona, ctx: CommandContext) =>
        Effect.gen(function*() {
          if (find((yield* priorEvents(ctx.meta)) ?? [], PERSONA_UPDATED) !== undefined) return id
          const { state, version } = yield* load
          yield* append(version, yield* decideUpdate(state, id, patch), ctx)
          return id
        })

      const answerDelete = (id: string, events: ReadonlyArray<StoredEvent>): PersonaDeleted => {
        const activated = find(events, PERSONA_ACTIVATED)
        if (activated === undefined) return { status: "deleted", id }
        const next = String(activated.data.persona_id)
        return { status: "deleted", id, active_id: next, message: `${id} was the active persona; ${next} is active now` }
      }

      const remove = (id: string, ctx: CommandContext) =>
        Effect.gen(function*() {
          const prior = yield* priorEvents(ctx.meta)
          const priorDelete = prior === undefined ? undefined : find(prior, PERSONA_DELETED)
          if (prior !== undefined && priorDelete !== undefined) return answerDelete(String(priorDelete.data.persona_id), prior)
          const { state, version } = yield* load
          return answerDelete(id, yield* append(version, yield* decideDelete(state, id), ctx))
        })

      const activate = (id: string, ctx: CommandContext) =>
        Effect.gen(function*() {
          const priorActivation = find((yield* priorEvents(ctx.meta)) ?? [], PERSONA_ACTIVATED)
          const { state, version } = yield* load
          if (priorActivation === undefined) yield* append(version, yield* decideActivate(state, id), ctx)
          const target = priorActivation === undefined ? id : String(priorActivation.data.persona_id)
          const persona = yield* get(target)
          return { id: persona.id, name: persona.name }
        })

      // the default persona, once per log: only when no persona event was ever appended
      const initial = decideInitial(yield* run(streamVersion(PERSONAS_STREAM)))
      if (initial.length > 0) {
        yield* run(append(0, initial, { actor: "system" })).pipe(
          Effect.zipRight(Effect.logInfo("created the default persona")),
          // another process created it at the same moment
          Effect.catchTag("ConcurrentChange", () => Effect.void)
        )
      }

      return Personas.of({
        list: run(Effect.gen(function*() {
          const active = yield* activeId
          return (yield* rows).map((r): PersonaSummary => {
            const p = toPersona(r)
            return {
              id: p.id,
              name: p.name,
              role: p.role,
              description: p.description,
              enabled: p.enabled,
              personality_traits: p.personality_traits,
              active: p.id === active
            }
          })
        })),
        get: (id) => run(get(id)),
        active: run(Effect.flatMap(activeId, (id) =>
          id === null ? Effect.succeed(Option.none()) : Effect.map(row(id), (r) => Option.map(Option.fromNullable(r), toPersona)))),
        create: (input, ctx) => run(create(input, ctx)),
        update: (id, patch, ctx) => run(update(id, patch, ctx)),
        delete: (id, ctx) => run(remove(id, ctx)),
        activate: (id, ctx) => run(activate(id, ctx))
      })
    })
  )
}

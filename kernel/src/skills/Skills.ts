/**
 * The skills service: skills are events; each live skill is also a file
 * `<data-dir>/skills/<name>.md` holding its content, written after the event commits, removed
 * on delete, and recreated from the view at start when missing.
 */
import { SqlClient } from "@effect/sql"
import type { PageRequest, Skill, SkillSummary } from "@annal/spec"
import { EventStore, type EventStoreError } from "@annal/store"
import { Context, Effect, Either, Layer, Schema } from "effect"
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type CommandContext, query } from "../shared/Command.js"
import { commandHandler, eventOf } from "../shared/CommandHandler.js"
import { DataDir } from "../shared/DataDir.js"
import { type AlreadyExists, type ConcurrentChange, EntityNotFound, type InvalidCommand } from "../shared/errors.js"
import { type Paged, paged } from "../shared/Page.js"
import { type CreateSkill, decideCreate, decideDelete } from "./decide.js"
import { SKILL_CREATED, SKILL_DELETED, skillStream } from "./events.js"
import { SkillRow } from "./projection.js"

const SkillText = SkillRow.pipe(Schema.pick("name", "description", "content"))
const SkillListed = SkillRow.pipe(Schema.pick("name", "description"))

export class Skills extends Context.Tag("@annal/kernel/Skills")<
  Skills,
  {
    /** Skills by name. */
    readonly list: (page: PageRequest) => Effect.Effect<Paged<SkillSummary>, EventStoreError>
    readonly get: (name: string) => Effect.Effect<Skill, EntityNotFound | EventStoreError>
    /** Creates a skill and writes its file; returns its name. */
    readonly create: (
      input: CreateSkill,
      context: CommandContext
    ) => Effect.Effect<string, InvalidCommand | AlreadyExists | ConcurrentChange | EventStoreError>
    /** Deletes a skill and its file; returns its name. */
    readonly delete: (name: string, context: CommandContext) => Effect.Effect<string, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    /** The absolute path of a skill's file. */
    readonly pathOf: (name: string) => string
    /** Writes the file of every live skill whose file is missing; returns their names. */
    readonly restoreFiles: Effect.Effect<ReadonlyArray<string>, EventStoreError>
    /** Start-up: `restoreFiles`, saying what it did. */
    readonly recover: Effect.Effect<string>
  }
>() {
  static readonly layer = Layer.effect(
    Skills,
    Effect.gen(function*() {
      const context = yield* Effect.context<SqlClient.SqlClient | EventStore>()
      const { skills: directory } = yield* DataDir
      const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | EventStore>) => Effect.provide(effect, context)
      const handle = commandHandler(Context.get(context, EventStore))
      const pathOf = (name: string) => join(directory, `${name}.md`)

      const row = (name: string) =>
        Effect.map(query("skills", SkillText, (sql) => sql`SELECT name, description, content FROM skills WHERE name = ${name}`), ([r]) => r)

      /** Writes through a temporary file so a reader never sees half a skill. */
      const writeFile = (name: string, content: string) => {
        mkdirSync(directory, { recursive: true })
        const tmp = join(directory, `.${name}.md.tmp`)
        writeFileSync(tmp, content, "utf8")
        renameSync(tmp, pathOf(name))
      }

      /** Makes the file match the view: the content of a live skill, nothing for a deleted one. */
      const syncFile = (name: string) =>
        Effect.flatMap(row(name), (r) =>
          Effect.try(() => (r === undefined ? rmSync(pathOf(name), { force: true }) : writeFile(name, r.content))).pipe(
            // the event is committed; a file that could not be written is recreated at the next start
            Effect.catchAll((e) => Effect.logError(`could not materialise skill ${name} at ${pathOf(name)}`, e))
          ))

      const exists = (name: string) => Effect.map(row(name), (r) => r !== undefined)
      const create = handle({
        stream: (input: CreateSkill) => skillStream(input.name),
        load: (input) => exists(input.name),
        decide: (input, exists) => Either.map(decideCreate(input, exists), (data) => [{ type: SKILL_CREATED, data }]),
        emits: [SKILL_CREATED],
        answer: (events) => {
          const name = String(eventOf(events, SKILL_CREATED)!.data.name)
          return Effect.as(syncFile(name), name)
        }
      })
      const remove = handle({
        stream: skillStream,
        load: exists,
        decide: (name: string, exists) => Either.map(decideDelete(name, exists), (data) => [{ type: SKILL_DELETED, data }]),
        emits: [SKILL_DELETED],
        answer: (events) => {
          const name = String(eventOf(events, SKILL_DELETED)!.data.name)
          return Effect.as(syncFile(name), name)
        }
      })

      const restoreFiles = Effect.gen(function*() {
        const rows = yield* query("skills", SkillText, (sql) => sql`SELECT name, description, content FROM skills ORDER BY name`)
        const written: Array<string> = []
        for (const r of rows) {
          if (existsSync(pathOf(r.name))) continue
          yield* Effect.try(() => writeFile(r.name, r.content)).pipe(
            Effect.tap(() => Effect.sync(() => written.push(r.name))),
            Effect.catchAll((e) => Effect.logError(`could not recreate skill file ${pathOf(r.name)}`, e))
          )
        }
        return written
      })

      const service = Skills.of({
        list: (page) =>
          run(paged(
            "skills",
            page,
            (sql) => sql`SELECT count(*) AS n FROM skills`,
            SkillListed,
            (sql, limit, offset) =>
              sql`SELECT name, description FROM skills ORDER BY name LIMIT ${limit} OFFSET ${offset}`,
            (r): SkillSummary => ({ name: r.name, description: r.description, stream: skillStream(r.name) })
          )),
        get: (name) =>
          run(Effect.flatMap(row(name), (r) =>
            r === undefined
              ? Effect.fail(new EntityNotFound({ what: "skill", id: name }))
              : Effect.succeed({ name: r.name, description: r.description, content: r.content, path: pathOf(r.name), stream: skillStream(r.name) }))),
        create: (input, ctx) => run(create(input, ctx)),
        delete: (name, ctx) => run(remove(name, ctx)),
        pathOf,
        restoreFiles: run(restoreFiles),
        recover: run(restoreFiles).pipe(
          Effect.map((restored) =>
            restored.length === 0 ? "every skill file in place" : `recreated ${restored.length} skill file(s) from the log: ${restored.join(", ")}`),
          Effect.catchAll((e) => Effect.as(Effect.logWarning(`could not restore skill files: ${e.message}`), `could not restore skill files: ${e.message}`))
        )
      })

      return service
    })
  )
}

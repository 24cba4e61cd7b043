/**
 * The seeds service: structured seeds created by the orchestrator, Markdown seeds imported from
 * `<data-dir>/seeds/*.md` at start, evaluations recorded against them, and their lineage.
 */
import { SqlClient } from "@effect/sql"
import { type MarkdownSeed, type PageRequest, type SeedDetail, type SeedEvolutionEntry, type SeedSummary, type SeedView } from "@annal/spec"
import { EventStore, type EventStoreError, IdGenerator } from "@annal/store"
import { Context, Effect, Either, Layer, Schema } from "effect"
import { createHash } from "node:crypto"
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { type CommandContext, commandsOf } from "../shared/Command.js"
import { answerWith, commandHandler, eventOf } from "../shared/CommandHandler.js"
import { DataDir } from "../shared/DataDir.js"
import type { AlreadyExists, ConcurrentChange, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import { EntityNotFound as NotFound } from "../shared/errors.js"
import { type Paged, paged } from "../shared/Page.js"
import { type CreateSeed, decideCreate, decideEvaluation, decideImport, type Evaluation, type SeedRef } from "./decide.js"
import { EVALUATION_COMPLETE, SEED_CREATED, SEED_IMPORTED, seedStream } from "./events.js"
import { SeedRow } from "./projection.js"

/** Largest Markdown seed file imported, in bytes. */
export const MAX_SEED_FILE_BYTES = 1024 * 1024

/** What an import of the seeds directory did. */
export interface SeedImportReport {
  readonly imported: ReadonlyArray<string>
  readonly unchanged: ReadonlyArray<string>
  /** Files left out, with the reason. */
  readonly skipped: ReadonlyArray<{ readonly file: string; readonly reason: string }>
}

const SeedListed = Schema.Struct({ ...SeedRow.pick("id", "goal", "created_at").fields, constraints_count: Schema.Number })

const toView = (row: typeof SeedRow.Type): SeedView =>
  row.format === "markdown"
    ? ({ id: row.id, content: row.content ?? "", stream: seedStream(row.id) } satisfies MarkdownSeed)
    : ({
      id: row.id,
      goal: row.goal,
      constraints: row.constraints,
      acceptance_criteria: row.acceptance_criteria,
      ontology: row.ontology,
      created_at: row.created_at,
      generation: row.generation,
      parent_seed_id: row.parent_id,
      evaluation: row.score === null || row.passed === null || row.evaluated_at === null
        ? null
        : { score: row.score, passed: row.passed, evaluated_at: row.evaluated_at },
      stream: seedStream(row.id)
    } satisfies SeedDetail)

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex")

/** Lineages longer than this are cut (they cannot loop: a parent always exists before its child). */
const MAX_LINEAGE = 10_000

export class Seeds extends Context.Tag("@annal/kernel/Seeds")<
  Seeds,
  {
    /** Creates a structured seed (generation from its parent); `id` defaults to a new UUID v7. */
    readonly create: (
      input: CreateSeed & { readonly id?: string | undefined },
      context: CommandContext
    ) => Effect.Effect<SeedDetail, InvalidCommand | EntityNotFound | AlreadyExists | ConcurrentChange | EventStoreError>
    /** Records `evaluation_complete` against a seed; returns the event's seq. */
    readonly recordEvaluation: (
      seedId: string,
      evaluation: Evaluation,
      context: CommandContext
    ) => Effect.Effect<number, InvalidCommand | EntityNotFound | ConcurrentChange | EventStoreError>
    /** Seeds newest first. */
    readonly list: (page: PageRequest) => Effect.Effect<Paged<SeedSummary>, EventStoreError>
    readonly get: (id: string) => Effect.Effect<SeedView, EntityNotFound | EventStoreError>
    /** The seed's parent chain, root first. */
    readonly evolution: (id: string) => Effect.Effect<ReadonlyArray<SeedEvolutionEntry>, EntityNotFound | EventStoreError>
    /** Imports new and changed `<data-dir>/seeds/*.md` files (done once at start). */
    readonly importDirectory: Effect.Effect<SeedImportReport, EventStoreError>
  }
>() {
  static readonly layer = Layer.effect(
    Seeds,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const context = yield* Effect.context<SqlClient.SqlClient | EventStore>()
      const { seeds: directory } = yield* DataDir
      const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | EventStore>) => Effect.provide(effect, context)
      const { view } = commandsOf(Context.get(context, EventStore), Context.get(context, SqlClient.SqlClient))

      const row = (id: string) =>
        Effect.map(view("seeds", SeedRow, (sql) => sql`SELECT * FROM seeds WHERE id = ${id}`), ([r]) => r)
      const ref = (id: string) =>
        Effect.map(row(id), (r): SeedRef | undefined =>
          r === undefined ? undefined : { id: r.id, format: r.format, generation: r.generation, sha256: r.sha256 })

      const get = (id: string): Effect.Effect<SeedView, EntityNotFound | EventStoreError> =>
        Effect.gen(function*() {
          const r = yield* row(id)
          if (r === undefined) return yield* new NotFound({ what: "seed", id })
          return toView(r)
        })

      const handle = commandHandler(Context.get(context, EventStore))

      const created = handle({
        stream: (command: CreateSeed & { readonly id: string }) => seedStream(command.id),
        load: (command) => Effect.all({ existing: ref(command.id), parent: command.parent_seed_id == null ? Effect.succeed(undefined) : ref(command.parent_seed_id) }),
        decide: (command, { existing, parent }) => Either.map(decideCreate(command.id, command, existing, parent), (data) => [{ type: SEED_CREATED, data }]),
        emits: [SEED_CREATED],
        // an idempotent retry answers with the seed its first attempt created
        answer: (events, command) =>
          Effect.map(
            Effect.catchTag(get(String(eventOf(events, SEED_CREATED)?.data.seed_id ?? command.id)), "EntityNotFound", (e) => Effect.die(e)),
            (seed) => seed as SeedDetail
          )
      })
      const create = (input: CreateSeed & { readonly id?: string | undefined }, ctx: CommandContext) =>
        Effect.flatMap(input.id === undefined ? ids.next : Effect.succeed(input.id), (id) => created({ ...input, id }, ctx))

      const evaluation = handle({
        stream: (command: { readonly seedId: string; readonly evaluation: Evaluation }) => seedStream(command.seedId),
        load: (command) => ref(command.seedId),
        decide: (command, seed) => Either.map(decideEvaluation(command.seedId, seed, command.evaluation), (data) => [{ type: EVALUATION_COMPLETE, data }]),
        emits: [EVALUATION_COMPLETE],
        answer: answerWith((events) => eventOf(events, EVALUATION_COMPLETE)!.seq)
      })
      const recordEvaluation = (seedId: string, e: Evaluation, ctx: CommandContext) => evaluation({ seedId, evaluation: e }, ctx)

      const list = (page: PageRequest) =>
        paged(
          "seeds",
          page,
          (sql) => sql`SELECT count(*) AS n FROM seeds`,
          SeedListed,
          (sql, limit, offset) =>
            sql`
              SELECT id, goal, json_array_length(constraints) AS constraints_count, created_at FROM seeds
              ORDER BY seq DESC LIMIT ${limit} OFFSET ${offset}`,
          (r): SeedSummary => ({ id: r.id, goal: r.goal, constraints_count: r.constraints_count, created_at: r.created_at, stream: seedStream(r.id) })
        )

      const evolution = (id: string) =>
        Effect.gen(function*() {
          const chain: Array<SeedEvolutionEntry> = []
          let next: string | null = id
          while (next !== null && chain.length < MAX_LINEAGE) {
            const r: typeof SeedRow.Type | undefined = yield* row(next)
            if (r === undefined) {
              if (chain.length === 0) return yield* new NotFound({ what: "seed", id })
              break
            }
            chain.push({
              id: r.id,
              generation: r.generation,
              goal: r.goal,
              parent_id: r.parent_id,
              score: r.score,
              passed: r.passed
            })
            next = r.parent_id
          }
          return chain.reverse()
        })

      // a file changed since it was imported is imported again; unchanged, nothing is appended
      const imported = handle({
        stream: (command: { readonly id: string; readonly content: string }) => seedStream(command.id),
        load: (command) => ref(command.id),
        decide: (command, existing) =>
          Either.map(decideImport(command.id, command.content, sha256(command.content), existing), (event) =>
            event === undefined ? [] : [{ type: SEED_IMPORTED, data: event }]),
        emits: [SEED_IMPORTED],
        answer: answerWith((events) => (events.length === 0 ? { _tag: "unchanged" } as const : { _tag: "imported" } as const))
      })

      const importOne = (file: string) =>
        Effect.gen(function*() {
          const path = join(directory, file)
          const info = statSync(path)
          if (!info.isFile()) return { _tag: "skipped", reason: "not a regular file" } as const
          if (info.size > MAX_SEED_FILE_BYTES) return { _tag: "skipped", reason: `larger than ${MAX_SEED_FILE_BYTES} bytes` } as const
          return yield* imported({ id: file.slice(0, -".md".length), content: readFileSync(path, "utf8") }, { actor: "system" }).pipe(
            Effect.catchTag("InvalidCommand", (e) => Effect.succeed({ _tag: "skipped", reason: e.message } as const))
          )
        })

      const importDirectory = Effect.gen(function*() {
        const imported: Array<string> = []
        const unchanged: Array<string> = []
        const skipped: Array<{ file: string; reason: string }> = []
        const files = yield* Effect.try(() => {
          mkdirSync(directory, { recursive: true })
          return readdirSync(directory).filter((f) => f.endsWith(".md")).sort()
        }).pipe(Effect.orElseSucceed(() => [] as Array<string>))
        for (const file of files) {
          const outcome = yield* importOne(file).pipe(
            Effect.catchAllDefect((e) => Effect.succeed({ _tag: "skipped", reason: String(e) } as const)),
            Effect.catchTag("ConcurrentChange", (e) => Effect.succeed({ _tag: "skipped", reason: e.message } as const))
          )
          if (outcome._tag === "imported") imported.push(file.slice(0, -3))
          else if (outcome._tag === "unchanged") unchanged.push(file.slice(0, -3))
          else skipped.push({ file, reason: outcome.reason })
        }
        return { imported, unchanged, skipped }
      })

      const service = Seeds.of({
        create,
        recordEvaluation,
        list: (page) => run(list(page)),
        get,
        evolution,
        importDirectory
      })

      const report = yield* service.importDirectory.pipe(
        Effect.catchAll((e) => Effect.as(Effect.logWarning(`could not import seeds from ${directory}: ${e.message}`), undefined))
      )
      if (report !== undefined) {
        if (report.imported.length > 0) yield* Effect.logInfo(`imported ${report.imported.length} Markdown seed(s): ${report.imported.join(", ")}`)
        for (const s of report.skipped) yield* Effect.logWarning(`seed file ${s.file} not imported: ${s.reason}`)
      }
      return service
    })
  )
}
